'use strict';

// The whole integration against a real Kring (KRING_URL, with KRING_TOKEN a personal access
// token of a company owner), nothing mocked: for each record type the triggers subscribe and
// unsubscribe, the actions write, Kring's real deliveries reach a receiver on loopback and
// the triggers turn them into the same items their samples are.

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const http = require('node:http');
const { after, before, test } = require('node:test');

// zapier-platform-core logs its memory use on every call unless it knows it is under test.
process.env.NODE_ENV = process.env.NODE_ENV || 'test';
const zapier = require('zapier-platform-core');

const App = require('../index');

const KRING_URL = process.env.KRING_URL;
const KRING_TOKEN = process.env.KRING_TOKEN;
if (!KRING_URL || !KRING_TOKEN) {
  throw new Error('set KRING_URL and KRING_TOKEN (a personal access token) to run these tests');
}

// Kring over plain HTTP with the same token the app uses, to check what the app did.
const kring = async (method, path, body) => {
  const response = await fetch(`${KRING_URL.replace(/\/+$/, '')}${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${KRING_TOKEN}`,
      Accept: 'application/json',
      ...(body ? { 'Content-Type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
};

// An HTTP server on 127.0.0.1 that answers 200 and keeps every request per path.
const startReceiver = async () => {
  const received = new Map();
  const server = http.createServer((request, response) => {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => {
      const list = received.get(request.url) || [];
      list.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
      received.set(request.url, list);
      response.end('ok');
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${server.address().port}`;

  // The first request to `path` for which `matches(parsed body)` holds, within 15 seconds.
  const delivery = async (path, matches) => {
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      const found = (received.get(path) || []).find((r) => matches(JSON.parse(r.body)));
      if (found) return found;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`no delivery to ${path} within 15 s; got ${JSON.stringify(received.get(path))}`);
  };

  return { base, delivery, close: () => new Promise((resolve) => server.close(resolve)) };
};

// Standard Webhooks: `v1,` + base64 HMAC-SHA256 of "<id>.<timestamp>.<body>", keyed with the
// base64 part of the `whsec_` secret.
const signedWith = (secret, { headers, body }) => {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = crypto
    .createHmac('sha256', key)
    .update(`${headers['webhook-id']}.${headers['webhook-timestamp']}.${body}`)
    .digest('base64');
  return headers['webhook-signature'].split(' ').includes(`v1,${expected}`);
};

// A write of a task answers with its `subtasks` embedded, which GET (and so an event's `data`)
// leaves out; apart from that, what an action returns is what GET returns.
const asShown = ({ subtasks, ...record }) => record;

const appTester = zapier.createAppTester(App);
const authData = { access_token: KRING_TOKEN };

let receiver;
// Records the contact, task, appointment, chance and contract cases refer to.
const refs = {};

before(async () => {
  receiver = await startReceiver();
  refs.customer = (await kring('POST', '/api/customer', { name: 'Zapier test: referenced' })).body;
  refs.contact = (await kring('POST', '/api/contact', { first_name: 'Referenced' })).body;
  refs.chance = (await kring('POST', '/api/chance', { name: 'Zapier test: referenced' })).body;
});

after(async () => {
  for (const [resource, record] of Object.entries(refs)) {
    await kring('DELETE', `/api/${resource}/${record.id}`);
  }
  await receiver.close();
});

// Per record type: what "Create" is given (as text, the way Zapier maps values from earlier
// steps) and which field "Update" then changes.
const CASES = {
  customer: {
    create: () => ({ name: 'Zapier test BV', email: 'zapier@test.example', show_on_map: 'true' }),
    update: { key: 'phone', input: '+31 30 765 4321', stored: '+31 30 765 4321' },
  },
  contact: {
    create: () => ({ first_name: 'Zed', last_name: 'Apier', customer_id: String(refs.customer.id) }),
    update: { key: 'last_name', input: 'Updated', stored: 'Updated' },
  },
  task: {
    create: () => ({
      name: 'Zapier test task', priority: '3', done: 'false',
      start_date: '2025-06-01T09:00:00Z', customer_id: String(refs.customer.id),
    }),
    update: { key: 'done', input: 'true', stored: true },
  },
  appointment: {
    create: () => ({
      name: 'Zapier test appointment', start_date: '2025-06-02T13:00:00Z',
      end_date: '2025-06-02T14:00:00Z', all_day: 'false', contact_id: String(refs.contact.id),
    }),
    update: { key: 'location', input: 'Utrecht', stored: 'Utrecht' },
  },
  chance: {
    create: () => ({
      name: 'Zapier test chance', price: '1500.5', chance: '40', status: 'open',
      expected_date: '2025-09-01', customer_id: String(refs.customer.id),
    }),
    update: { key: 'status', input: 'won', stored: 'won' },
  },
  contract: {
    create: () => ({
      name: 'Zapier test contract', price: '100', price_type: '2',
      start_date: '2025-01-01T00:00:00Z', end_date: '2025-12-31T00:00:00Z',
      customer_id: String(refs.customer.id), contact_id: String(refs.contact.id),
      chance_id: String(refs.chance.id),
    }),
    update: { key: 'price', input: '150', stored: 150 },
  },
};

test('the app definition passes zapier-platform-core validation', async () => {
  const { results: errors } = await zapier.createAppHandler(App)({ command: 'validate' });
  assert.deepEqual(errors, []);
});

test('six resources, each with new and updated triggers and create and update actions', () => {
  const resources = Object.keys(CASES);
  assert.deepEqual(
    Object.keys(App.triggers).sort(),
    resources.flatMap((r) => [`new_${r}`, `updated_${r}`]).sort(),
  );
  assert.deepEqual(
    Object.keys(App.creates).sort(),
    resources.flatMap((r) => [`create_${r}`, `update_${r}`]).sort(),
  );
});

test('a personal access token passes the connection test; a wrong one asks for a refresh', async () => {
  const me = await appTester(App.authentication.test, { authData });
  assert.equal((await kring('GET', '/api/me')).body.id, me.id);
  await assert.rejects(
    appTester(App.authentication.test, { authData: { access_token: 'not-a-token' } }),
    (error) => error.name === 'RefreshAuthError',
  );
});

test('an action Kring refuses fails with Kring\'s own message', async () => {
  await assert.rejects(
    appTester(App.creates.create_contract.operation.perform, { authData, inputData: { name: 'x' } }),
    /Kring answered 422: The customer id field is required\. \(and 5 more errors\)/,
  );
});

// The OAuth half needs someone to sign in on Kring's consent page, as a person would in
// Zapier's popup: KRING_EMAIL and KRING_PASSWORD, the owner of KRING_TOKEN.
const signIn = { email: process.env.KRING_EMAIL, password: process.env.KRING_PASSWORD };

test('OAuth: authorize with PKCE, exchange the code, test the connection, refresh', {
  skip: !(signIn.email && signIn.password) && 'KRING_EMAIL and KRING_PASSWORD are not set',
}, async (t) => {
  const redirectUri = 'https://zapier.com/dashboard/auth/oauth/return/KringCLIAPI/';
  const client = await kring('POST', '/oauth/clients', { name: 'Zapier test', redirect: redirectUri });
  assert.equal(client.status, 201);
  t.after(() => kring('DELETE', `/oauth/clients/${client.body.id}`));
  process.env.CLIENT_ID = client.body.id;
  process.env.CLIENT_SECRET = client.body.secret;
  const { oauth2Config } = App.authentication;

  // Zapier's part with `enablePkce`: a verifier of its own, its S256 challenge on the URL.
  const state = crypto.randomBytes(16).toString('hex');
  const verifier = crypto.randomBytes(48).toString('base64url');
  const challenge = crypto.createHash('sha256').update(verifier).digest('base64url');
  const authorizeUrl = await appTester(oauth2Config.authorizeUrl, {
    inputData: { state, redirect_uri: redirectUri },
  });
  const page = await fetch(`${authorizeUrl}&code_challenge=${challenge}&code_challenge_method=S256`);
  assert.equal(page.status, 200);

  // The person's part: sign in and approve on the page, its hidden fields sent back.
  const unescape = (v) => v.replace(/&quot;/g, '"').replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  const form = new URLSearchParams({ ...signIn, decision: 'approve' });
  const hidden = /type="hidden" name="([^"]+)" value="([^"]*)"/g;
  for (const [, name, value] of (await page.text()).matchAll(hidden)) {
    form.append(name, unescape(value));
  }
  const approved = await fetch(`${KRING_URL}/oauth/authorize`, {
    method: 'POST',
    body: form,
    headers: { Cookie: page.headers.get('set-cookie').split(';')[0] },
    redirect: 'manual',
  });
  assert.equal(approved.status, 302);
  const back = new URL(approved.headers.get('location'));
  assert.equal(`${back.origin}${back.pathname}`, redirectUri);
  assert.equal(back.searchParams.get('state'), state);

  const tokens = await appTester(oauth2Config.getAccessToken, {
    inputData: {
      code: back.searchParams.get('code'),
      redirect_uri: redirectUri,
      state,
      code_verifier: verifier,
    },
  });
  assert.ok(tokens.access_token && tokens.refresh_token);
  const me = await appTester(App.authentication.test, { authData: tokens });
  assert.equal(me.email, signIn.email);

  const refreshed = await appTester(oauth2Config.refreshAccessToken, { authData: tokens });
  assert.notEqual(refreshed.access_token, tokens.access_token);
  assert.notEqual(refreshed.refresh_token, tokens.refresh_token, 'rotated');
  assert.equal((await appTester(App.authentication.test, { authData: refreshed })).email, signIn.email);
});

for (const [resource, { create, update }] of Object.entries(CASES)) {
  test(`${resource}: subscribe, create, deliver, update, deliver, samples, unsubscribe`, async (t) => {
    const created = App.triggers[`new_${resource}`].operation;
    const updated = App.triggers[`updated_${resource}`].operation;
    const hooks = {};
    let record;
    try {
      await t.test('subscribing creates a webhook in Kring for each trigger', async () => {
        for (const [action, operation] of [['created', created], ['updated', updated]]) {
          const targetUrl = `${receiver.base}/${resource}/${action}`;
          const hook = await appTester(operation.performSubscribe, { authData, targetUrl });
          hooks[action] = hook;
          assert.match(hook.secret, /^whsec_/);
          const stored = await kring('GET', `/api/webhook/${hook.id}`);
          assert.equal(stored.status, 200);
          assert.equal(stored.body.url, targetUrl);
          assert.equal(stored.body.event, `${resource}.${action}`);
        }
      });

      let shown;
      await t.test('the create action creates the record', async () => {
        record = await appTester(App.creates[`create_${resource}`].operation.perform, {
          authData,
          inputData: create(),
        });
        shown = (await kring('GET', `/api/${resource}/${record.id}`)).body;
        assert.deepEqual(asShown(record), shown);
        const { sample } = App.creates[`create_${resource}`].operation;
        assert.deepEqual(Object.keys(sample).sort(), Object.keys(shown).sort(), 'sample keys');
      });

      let createdItem;
      await t.test('Kring delivers the creation, signed, and the trigger reads it', async () => {
        const delivery = await receiver.delivery(
          `/${resource}/created`,
          (event) => event.data.id === record.id,
        );
        assert.ok(signedWith(hooks.created.secret, delivery), 'signed with the subscription secret');
        const event = JSON.parse(delivery.body);
        [createdItem] = await appTester(created.perform, { authData, cleanedRequest: event });
        assert.deepEqual(createdItem, {
          id: `${resource}-${record.id}`,
          event: `${resource}.created`,
          created_at: event.created_at,
          data: shown,
        });
      });

      await t.test('the new trigger samples the record in the same shape', async () => {
        const samples = await appTester(created.performList, { authData });
        const sample = samples.find((s) => s.id === createdItem.id);
        assert.ok(sample, `${createdItem.id} among ${samples.map((s) => s.id)}`);
        assert.deepEqual(sample, { ...createdItem, created_at: shown.created_at });
        const times = samples.map((s) => s.data.created_at);
        assert.deepEqual(times, [...times].sort().reverse(), 'newest first');
      });

      let changed;
      await t.test('the update action changes the record', async () => {
        const result = await appTester(App.creates[`update_${resource}`].operation.perform, {
          authData,
          inputData: { id: String(record.id), [update.key]: update.input },
        });
        changed = (await kring('GET', `/api/${resource}/${record.id}`)).body;
        assert.deepEqual(asShown(result), changed);
        assert.deepEqual(changed[update.key], update.stored);
        assert.notEqual(changed.updated_at, shown.updated_at);
      });

      let updatedItem;
      await t.test('Kring delivers the update and the updated trigger reads it', async () => {
        const delivery = await receiver.delivery(
          `/${resource}/updated`,
          (event) => event.data.id === record.id,
        );
        assert.ok(signedWith(hooks.updated.secret, delivery), 'signed with the subscription secret');
        const event = JSON.parse(delivery.body);
        [updatedItem] = await appTester(updated.perform, { authData, cleanedRequest: event });
        assert.deepEqual(updatedItem, {
          id: `${resource}-${record.id}-${changed.updated_at}`,
          event: `${resource}.updated`,
          created_at: event.created_at,
          data: changed,
          changed_fields: event.changed_fields,
          previous: event.previous,
        });
        assert.ok(event.changed_fields.includes(update.key), `${update.key} in changed_fields`);
        assert.deepEqual(event.previous[update.key], shown[update.key]);
      });

      await t.test('the updated trigger samples the change under the same id', async () => {
        const samples = await appTester(updated.performList, { authData });
        const sample = samples.find((s) => s.id === updatedItem.id);
        assert.ok(sample, `${updatedItem.id} among ${samples.map((s) => s.id)}`);
        assert.deepEqual(sample, {
          ...updatedItem,
          created_at: changed.updated_at,
          changed_fields: [],
          previous: {},
        });
      });

      await t.test('unsubscribing deletes the webhooks', async () => {
        for (const [action, operation] of [['created', created], ['updated', updated]]) {
          await appTester(operation.performUnsubscribe, { authData, subscribeData: hooks[action] });
          assert.equal((await kring('GET', `/api/webhook/${hooks[action].id}`)).status, 404);
          // Turning off a Zap whose webhook is already gone succeeds too.
          await appTester(operation.performUnsubscribe, { authData, subscribeData: hooks[action] });
          delete hooks[action];
        }
      });
    } finally {
      // Whatever failed, leave no subscription or test record behind.
      for (const hook of Object.values(hooks)) await kring('DELETE', `/api/webhook/${hook.id}`);
      if (record) await kring('DELETE', `/api/${resource}/${record.id}`);
    }
  });
}
