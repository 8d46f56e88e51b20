'use strict';

// "Create <noun>" (POST /api/<resource>, 201 with the record) and "Update <noun>"
// (PATCH /api/<resource>/{id}, 200 with the record; only the fields given change).

const { kringUrl } = require('./kring');

// Only the fields the Zap filled in are sent, so an update leaves the rest as they are
// (Kring takes numbers and booleans as text too, the way Zapier maps them from other steps).
const filledIn = (fields, inputData) =>
  Object.fromEntries(
    fields
      .map(({ key }) => [key, inputData[key]])
      .filter(([, value]) => value !== undefined && value !== null && value !== ''),
  );

const createAction = ({ key: resource, noun, fields, sample }) => ({
  key: `create_${resource}`,
  noun,
  display: { label: `Create ${noun}`, description: `Creates a ${noun.toLowerCase()} in Kring.` },
  operation: {
    inputFields: fields,
    perform: async (z, bundle) => {
      const response = await z.request({
        method: 'POST',
        url: `${kringUrl()}/api/${resource}`,
        body: filledIn(fields, bundle.inputData),
      });
      return response.data;
    },
    sample,
  },
});

const updateAction = ({ key: resource, noun, fields, sample }) => ({
  key: `update_${resource}`,
  noun,
  display: {
    label: `Update ${noun}`,
    description: `Changes the given fields of a ${noun.toLowerCase()} in Kring.`,
  },
  operation: {
    inputFields: [
      { key: 'id', label: `${noun} ID`, type: 'integer', required: true },
      ...fields.map((f) => ({ ...f, required: false })),
    ],
    perform: async (z, bundle) => {
      const response = await z.request({
        method: 'PATCH',
        url: `${kringUrl()}/api/${resource}/${encodeURIComponent(bundle.inputData.id)}`,
        body: filledIn(fields, bundle.inputData),
      });
      return response.data;
    },
    sample,
  },
});

module.exports = { createAction, updateAction };
