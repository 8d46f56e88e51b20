'use strict';

// The six Kring record types this integration triggers on and writes. Each one's fields are
// its writable columns in crates/kring-server/src/resource/defs/<key>.rs; `required: true`
// marks the `.required()` ones, which creating a record needs. `user_id` (the owner) is left
// out everywhere: Kring makes the connected user the owner.

const field = (key, label, type = 'string', extra = {}) => ({ key, label, type, ...extra });
const required = (key, label, type = 'string', extra = {}) =>
  field(key, label, type, { required: true, ...extra });
const reference = (key, label, noun, extra = {}) =>
  field(key, label, 'integer', { helpText: `The id of a Kring ${noun}.`, ...extra });

const customerId = reference('customer_id', 'Customer ID', 'customer');
const contactId = reference('contact_id', 'Contact ID', 'contact');

const RESOURCES = [
  {
    key: 'customer',
    noun: 'Customer',
    fields: [
      required('name', 'Name'),
      field('email', 'Email'),
      field('phone', 'Phone'),
      field('coc', 'Chamber of Commerce number'),
      field('description', 'Description', 'text'),
      field('next_contact', 'Next contact', 'datetime'),
      field('next_contact_note', 'Next contact note', 'text'),
      field('show_on_map', 'Show on map', 'boolean'),
    ],
    sample: {
      id: 1, user_id: 1, name: 'Lowe, Farrell and Leuschke', description: null,
      coc: '12345678', email: 'info@lowe.test', phone: '+31 20 123 4567',
      next_contact: '2025-03-01T09:00:00.000000Z', show_on_map: true,
      created_at: '2025-02-01T10:00:00.000000Z', updated_at: '2025-02-01T10:00:00.000000Z',
      next_contact_note: 'Call about the renewal',
    },
  },
  {
    key: 'contact',
    noun: 'Contact',
    fields: [
      required('first_name', 'First name'),
      field('last_name', 'Last name'),
      field('email', 'Email'),
      field('phone', 'Phone'),
      field('mobile', 'Mobile'),
      field('function', 'Function'),
      field('description', 'Description', 'text'),
      reference('customer_id', 'Customer ID', 'customer', {
        helpText: 'The id of the contact\'s primary Kring customer.',
      }),
    ],
    sample: {
      id: 1, user_id: 1, customer_id: 1, first_name: 'Ann', last_name: 'Lowe',
      email: 'ann@lowe.test', phone: null, mobile: '+31 6 1234 5678', function: 'Buyer',
      description: null, created_at: '2025-02-01T10:00:00.000000Z',
      updated_at: '2025-02-01T10:00:00.000000Z',
    },
  },
  {
    key: 'task',
    noun: 'Task',
    fields: [
      required('name', 'Name'),
      field('description', 'Description', 'text'),
      field('start_date', 'Start', 'datetime'),
      field('end_date', 'End', 'datetime'),
      field('done', 'Done', 'boolean'),
      field('priority', 'Priority', 'integer', { helpText: 'From 1 to 5.' }),
      customerId,
      contactId,
    ],
    sample: {
      id: 1, user_id: 1, customer_id: 1, contact_id: null, name: 'Send the quote',
      description: null, start_date: '2025-02-03T09:00:00.000000Z', end_date: null, done: false,
      priority: 2, created_at: '2025-02-01T10:00:00.000000Z',
      updated_at: '2025-02-01T10:00:00.000000Z',
    },
  },
  {
    key: 'appointment',
    noun: 'Appointment',
    fields: [
      required('name', 'Name'),
      required('start_date', 'Start', 'datetime'),
      field('end_date', 'End', 'datetime'),
      field('all_day', 'All day', 'boolean'),
      field('location', 'Location'),
      field('description', 'Description', 'text'),
      customerId,
      contactId,
    ],
    sample: {
      id: 1, user_id: 1, customer_id: 1, contact_id: 1, name: 'Kick-off',
      description: null, location: 'Amsterdam', start_date: '2025-02-10T13:00:00.000000Z',
      end_date: '2025-02-10T14:00:00.000000Z', all_day: false,
      created_at: '2025-02-01T10:00:00.000000Z', updated_at: '2025-02-01T10:00:00.000000Z',
     
    },
  },
  {
    key: 'chance',
    noun: 'Chance',
    fields: [
      required('name', 'Name'),
      field('description', 'Description', 'text'),
      field('price', 'Price', 'number'),
      field('chance', 'Chance (%)', 'integer', { helpText: 'The probability, 0 to 100.' }),
      field('status', 'Status', 'string', { choices: ['open', 'won', 'lost'] }),
      // Text, not `datetime`: Zapier would send midnight in the user's time zone, which
      // Kring turns into UTC first, the day before east of Greenwich.
      field('expected_date', 'Expected date', 'string', { helpText: 'A date: YYYY-MM-DD.' }),
      customerId,
      contactId,
    ],
    sample: {
      id: 1, user_id: 1, customer_id: 1, contact_id: 1, name: 'Yearly support',
      description: null, price: 1200, chance: 60, status: 'open',
      expected_date: '2025-04-01', created_at: '2025-02-01T10:00:00.000000Z',
      updated_at: '2025-02-01T10:00:00.000000Z',
    },
  },
  {
    key: 'contract',
    noun: 'Contract',
    fields: [
      required('name', 'Name'),
      required('price', 'Price', 'number'),
      field('price_type', 'Price type', 'integer', {
        choices: [
          { value: '1', sample: '1', label: 'One-off' },
          { value: '2', sample: '2', label: 'Monthly' },
          { value: '3', sample: '3', label: 'Quarterly' },
          { value: '4', sample: '4', label: 'Yearly' },
        ],
      }),
      required('start_date', 'Start', 'datetime'),
      required('end_date', 'End', 'datetime'),
      field('reminder_date', 'Reminder', 'datetime'),
      field('description', 'Description', 'text'),
      // A contract always belongs to a customer, a contact and the chance it came from.
      { ...customerId, required: true },
      { ...contactId, required: true },
      reference('chance_id', 'Chance ID', 'chance', { required: true }),
    ],
    sample: {
      id: 1, user_id: 1, customer_id: 1, contact_id: 1, chance_id: 1,
      name: 'Support 2025', description: null, price: 100, price_type: 2,
      calculated_price: 1200, start_date: '2025-01-01T00:00:00.000000Z',
      end_date: '2025-12-31T00:00:00.000000Z', reminder_date: null, import_id: null,
      created_at: '2025-02-01T10:00:00.000000Z', updated_at: '2025-02-01T10:00:00.000000Z',
     
    },
  },
];

module.exports = { RESOURCES };
