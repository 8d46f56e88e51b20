'use strict';

// "New <noun>" and "Updated <noun>" as REST hooks: turning a Zap on subscribes Zapier's target
// URL to the Kring event (POST /api/webhook), turning it off deletes the subscription, and
// Kring POSTs every event to the URL as {id, event, created_at, data, changed_fields?,
// previous?}, `data` being the record as GET /api/<resource>/{id} returns it.

const { kringUrl } = require('./kring');

// Zapier drops an item whose `id` it has seen before. A record is created once, so its id
// names the "created" event; it is updated many times, so an "updated" item is named by the
// record and the moment of that update. Hooks and samples are named alike, so a sample and a
// delivery of the same change are the same item.
const itemId = (resource, action, record) =>
  action === 'created'
    ? `${resource}-${record.id}`
    : `${resource}-${record.id}-${record.updated_at}`;

// The item a trigger gives the Zap, from a delivered event or from a listed record. A list
// cannot tell what an update changed, so samples of updates carry empty `changed_fields`
// and `previous` (the keys are there for mapping all the same).
const toItem = (resource, action, record, event = {}) => {
  const item = {
    id: itemId(resource, action, record),
    event: `${resource}.${action}`,
    created_at: event.created_at || (action === 'created' ? record.created_at : record.updated_at),
    data: record,
  };
  if (action === 'updated') {
    item.changed_fields = event.changed_fields || [];
    item.previous = event.previous || {};
  }
  return item;
};

const hookTrigger = ({ key: resource, noun, sample }, action) => {
  const event = `${resource}.${action}`;
  const label = action === 'created' ? `New ${noun}` : `Updated ${noun}`;
  return {
    key: `${action === 'created' ? 'new' : 'updated'}_${resource}`,
    noun,
    display: {
      label,
      description: `Triggers when a ${noun.toLowerCase()} is ${action} in Kring.`,
    },
    operation: {
      type: 'hook',

      performSubscribe: async (z, bundle) => {
        const response = await z.request({
          method: 'POST',
          url: `${kringUrl()}/api/webhook`,
          body: { url: bundle.targetUrl, event },
        });
        // Kept by Zapier as bundle.subscribeData: the id to unsubscribe, and the secret
        // Kring signs deliveries with (shown only in this response).
        return response.data;
      },

      performUnsubscribe: async (z, bundle) => {
        const response = await z.request({
          method: 'DELETE',
          url: `${kringUrl()}/api/webhook/${bundle.subscribeData.id}`,
          skipThrowForStatus: true,
        });
        // Already deleted in Kring is what turning the Zap off asks for, not an error.
        if (response.status !== 404) response.throwForStatus();
        return {};
      },

      perform: (z, bundle) => {
        const delivered = bundle.cleanedRequest;
        return [toItem(resource, action, delivered.data, delivered)];
      },

      // Samples for the Zap editor: the latest records, as the hook would have delivered them.
      performList: async (z, bundle) => {
        const order = action === 'created' ? 'created_at' : 'updated_at';
        const response = await z.request({
          url: `${kringUrl()}/api/${resource}`,
          params: { order_by: `${order}:desc`, limit: 3 },
        });
        return response.data.data.map((record) => toItem(resource, action, record));
      },

      sample: toItem(resource, action, sample),
    },
  };
};

module.exports = { hookTrigger, toItem };
