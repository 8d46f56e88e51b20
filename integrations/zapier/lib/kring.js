'use strict';

// Where the Kring server lives. One Kring deployment pushes its own private copy of this
// integration with `zapier env:set`: its OAuth client (CLIENT_ID, CLIENT_SECRET) exists on that
// server only, so the URL comes from the same place as the client and not from a field the
// person connecting types in (which would let anyone send the client secret to a server of
// their choosing).
const kringUrl = () => {
  const url = process.env.KRING_URL;
  if (!url) {
    throw new Error('KRING_URL is not set: `zapier env:set <version> KRING_URL=https://crm.example`');
  }
  return url.replace(/\/+$/, '');
};

// Every request to the API carries the connection's token (an OAuth access token, or in the
// offline tests a personal access token: Kring takes both as Bearer tokens). Requests to the
// token endpoint authenticate the client instead, so they go without.
const addBearerToken = (request, z, bundle) => {
  request.headers = request.headers || {};
  const token = bundle.authData && bundle.authData.access_token;
  if (token && !request.url.endsWith('/oauth/token') && !request.headers.Authorization) {
    request.headers.Authorization = `Bearer ${token}`;
  }
  request.headers.Accept = 'application/json';
  return request;
};

// Kring's errors are JSON with a `message` (422s add `errors` per field); show that message
// instead of the raw response. A 401 never gets here: the platform turns it into a token
// refresh first (`autoRefresh`).
const explainErrors = (response, z) => {
  if (response.status >= 400 && !response.skipThrowForStatus) {
    const body = response.data || {};
    const fields = body.errors ? ` ${JSON.stringify(body.errors)}` : '';
    throw new z.errors.Error(
      `Kring answered ${response.status}: ${body.message || response.content}${fields}`,
      `kring_${response.status}`,
      response.status,
    );
  }
  return response;
};

module.exports = { kringUrl, addBearerToken, explainErrors };
