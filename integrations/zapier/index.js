'use strict';

const { version: platformVersion } = require('zapier-platform-core');

const { version } = require('./package.json');
const authentication = require('./lib/authentication');
const { addBearerToken, explainErrors } = require('./lib/kring');
const { RESOURCES } = require('./lib/resources');
const { hookTrigger } = require('./lib/triggers');
const { createAction, updateAction } = require('./lib/actions');

const byKey = (items) => Object.fromEntries(items.map((item) => [item.key, item]));

module.exports = {
  version,
  platformVersion,
  authentication,
  beforeRequest: [addBearerToken],
  afterResponse: [explainErrors],
  triggers: byKey(
    RESOURCES.flatMap((r) => [hookTrigger(r, 'created'), hookTrigger(r, 'updated')]),
  ),
  creates: byKey(RESOURCES.flatMap((r) => [createAction(r), updateAction(r)])),
};
