'use strict';

// Kring is its own OAuth 2.0 server: authorization code with PKCE (S256, which Kring
// requires), refresh tokens rotated on every use. With `enablePkce` Zapier makes the code
// verifier itself, adds its challenge to the authorize URL and hands the verifier to
// getAccessToken as bundle.inputData.code_verifier.

const { kringUrl } = require('./kring');

// What the triggers and actions need: read and write the six record types, manage webhook
// subscriptions, and read the connected user for the connection test.
const SCOPES = [
  'customers', 'contacts', 'tasks', 'appointments', 'chances', 'contracts', 'webhooks',
].map((s) => `${s}:read ${s}:write`).concat('users:read').join(' ');

const client = () => ({
  client_id: process.env.CLIENT_ID,
  client_secret: process.env.CLIENT_SECRET,
});

// Kring rotates the refresh token on every use (reusing an old one revokes the grant), so
// the new one is kept each time.
const tokens = (response) => ({
  access_token: response.data.access_token,
  refresh_token: response.data.refresh_token,
});

module.exports = {
  type: 'oauth2',
  oauth2Config: {
    authorizeUrl: (z, bundle) => {
      const params = new URLSearchParams({
        response_type: 'code',
        client_id: process.env.CLIENT_ID,
        redirect_uri: bundle.inputData.redirect_uri,
        state: bundle.inputData.state,
        scope: SCOPES,
      });
      return `${kringUrl()}/oauth/authorize?${params}`;
    },
    getAccessToken: async (z, bundle) =>
      tokens(
        await z.request({
          method: 'POST',
          url: `${kringUrl()}/oauth/token`,
          body: {
            ...client(),
            grant_type: 'authorization_code',
            code: bundle.inputData.code,
            redirect_uri: bundle.inputData.redirect_uri,
            code_verifier: bundle.inputData.code_verifier,
          },
        }),
      ),
    refreshAccessToken: async (z, bundle) =>
      tokens(
        await z.request({
          method: 'POST',
          url: `${kringUrl()}/oauth/token`,
          body: {
            ...client(),
            grant_type: 'refresh_token',
            refresh_token: bundle.authData.refresh_token,
          },
        }),
      ),
    autoRefresh: true,
    enablePkce: true,
  },
  // The connected user; a personal access token passes this too.
  test: async (z) => (await z.request({ url: `${kringUrl()}/api/me` })).data,
  connectionLabel: '{{name}} ({{email}})',
};
