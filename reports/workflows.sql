-- Power Automate rebuild reference (`ferry report workflows`), rendered
-- through templates/workflows.html.j2 into reports/workflows.html (+ .json).
--
-- ServiceTracker's automation rules (source object `workflows`: name,
-- object, trigger, conditions, actions, active) are not migrated (SPEC §10):
-- an admin rebuilds each one as a Power Automate cloud flow. This report
-- puts every rule beside the flow that would replace it: the trigger, the
-- Dataverse "Filter rows" expression translated from its conditions, and one
-- step per action, on the Dataverse tables the data was mapped to.
--
-- The translation is data, not code: edit the VALUES lists below
-- (`object_tables`, `field_columns`, `trigger_rules`, `action_rules`) to
-- teach it your own rules. Rules are regular expressions matched against
-- the lower-cased source text, first match (lowest position) wins. Anything
-- no rule matches is flagged "rebuild by hand" with the original text.
-- Picklist values in conditions translate through map.optionset (the same
-- mapping/optionsets.csv the transforms use), so a filter names the option
-- integers Dataverse stores.
--
-- requires: raw.workflows_current by ferry stage
-- requires: map.settings by ferry transform

-- name: headline
WITH flows AS (
    SELECT * FROM raw.workflows_current
)
SELECT h.key, h.label, h.value, h.status
FROM (SELECT count(*) AS workflows, count(*) FILTER (active) AS active FROM flows) AS t,
LATERAL (VALUES
    (1, 'workflows', 'workflows',             t.workflows, 'info'),
    (2, 'active',    'active in ServiceTracker', t.active, 'info')
) AS h(position, key, label, value, status)
ORDER BY position;

-- name: flows
WITH settings AS (
    SELECT prefix, profile, work_order_table FROM map.settings
),
-- ServiceTracker object → the Dataverse table its records became (SPEC §10).
-- `{work_order}` is incident (sales) or msdyn_workorder (field-service).
object_tables(object, profile, target_table) AS (
    VALUES
    ('customers',       'any',           'account'),
    ('contacts',        'any',           'contact'),
    ('sites',           'any',           'customeraddress'),
    ('technicians',     'any',           'systemuser'),
    ('work_orders',     'any',           '{work_order}'),
    ('contracts',       'any',           'contract'),
    ('parts',           'any',           'product'),
    ('work_order_parts','sales',         '{{prefix}}_workorderpart'),
    ('work_order_parts','field-service', 'msdyn_workorderproduct'),
    ('dispatches',      'sales',         'incident'),
    ('dispatches',      'field-service', 'bookableresourcebooking'),
    ('attachments',     'any',           'annotation'),
    ('activities',      'any',           'phonecall'),
    ('notes',           'any',           'annotation'),
    ('billing_history', 'any',           'annotation'),
    ('equipment',       'any',           '{{prefix}}_equipment')
),
-- Source fields named in conditions → target columns, for fields that are
-- not picklists (those go through map.optionset). `true_filter` is the
-- expression for `<field> = true` when it is not `<column> eq true`.
-- Custom fields `cf_<name>` become `{{prefix}}_<name>` without a row here.
field_columns(object, field, target_column, true_filter) AS (
    VALUES
    ('work_orders', 'contract_id',      '_contractid_value', NULL),
    ('work_orders', 'created_at',       'createdon',         NULL),
    ('work_orders', 'completed_at',     'resolvedon',        NULL),
    ('contracts',   'end_date',         'expireson',         NULL),
    ('contracts',   'start_date',       'activeon',          NULL),
    ('parts',       'quantity_on_hand', 'quantityonhand',    NULL),
    ('parts',       'active',           'statecode',         'statecode eq 0'),
    ('customers',   'invoice_method',   '{{prefix}}_invoicemethod', NULL),
    ('billing_history', 'status',       NULL,                NULL),
    ('dispatches',  'dispatch_status',  NULL,                NULL)
),
-- Trigger text → Power Automate trigger.
trigger_rules(position, pattern, kind, connector, operation, change_type, frequency) AS (
    VALUES
    (10, '^on create or update',  'row',      'Microsoft Dataverse', 'When a row is added, modified or deleted', 'Added or Modified', NULL),
    (20, '^on create',            'row',      'Microsoft Dataverse', 'When a row is added, modified or deleted', 'Added',             NULL),
    (30, '^on update',            'row',      'Microsoft Dataverse', 'When a row is added, modified or deleted', 'Modified',          NULL),
    (40, '^on delete',            'row',      'Microsoft Dataverse', 'When a row is added, modified or deleted', 'Deleted',           NULL),
    (50, '^scheduled? (every )?hour', 'schedule', 'Schedule',        'Recurrence',                               NULL,                'Hour'),
    (60, '^scheduled? (every )?da(il)?y', 'schedule', 'Schedule',    'Recurrence',                               NULL,                'Day'),
    (70, '^scheduled? (every )?week', 'schedule', 'Schedule',        'Recurrence',                               NULL,                'Week'),
    (80, '^scheduled? (every )?month', 'schedule', 'Schedule',       'Recurrence',                               NULL,                'Month')
),
-- Action text → Power Automate action. `{work_order}` as above; `{self}` is
-- the table of the row that triggered the flow.
action_rules(position, pattern, connector, operation, target_table, how) AS (
    VALUES
    (10,  '(sms|text message)',         'Twilio',              'Send Text Message (SMS)',           NULL,           'Premium connector and a Twilio account; or post to the technician in Microsoft Teams instead.'),
    (20,  '^(send )?(.* )?e-?mail|^e-?mail', 'Office 365 Outlook', 'Send an email (V2)',            NULL,           'To: the address or the related row''s e-mail column (Dynamic content); Subject and Body from the row''s columns.'),
    (30,  '^create (a )?task',          'Microsoft Dataverse', 'Add a new row',                     'task',         'Regarding = the triggering row (regardingobjectid_<table>_task@odata.bind); Owner, Subject and Due date from the text.'),
    (40,  '^create (a )?(pm )?work order', 'Microsoft Dataverse', 'Add a new row',                  '{work_order}', 'Customer and contract from the triggering row; title and details from the PM routine note.'),
    (50,  '^create (an )?invoice',      'Microsoft Dataverse', 'Add a new row',                     'invoice',      'Needs a price list and products in Dataverse; many teams keep invoicing in the finance system instead.'),
    (60,  '^add (a )?note',             'Microsoft Dataverse', 'Add a new row',                     'annotation',   'Regarding (objectid_<table>@odata.bind) = the related row; Note text from the text.'),
    (70,  '^schedule',                  'Microsoft Dataverse', 'Add a new row',                     'appointment',  'Regarding = the triggering row; Start and End from the text.'),
    (80,  '^assign',                    'Microsoft Dataverse', 'Update a row',                      '{self}',       'Set Owner (ownerid) to the user; look the user up first with "List rows" on systemuser.'),
    (90,  '^(raise|lower|set|update|change|mark)\b', 'Microsoft Dataverse', 'Update a row',         '{self}',       'Field update: Row ID = the triggering row; set the column(s) the text names.'),
    (100, '^notify',                    'Microsoft Teams',     'Post message in a chat or channel', NULL,           'Post as Flow bot to the person''s chat or the team''s channel, with a link to the row.')
),
flows AS (
    SELECT
        w.id,
        w.name,
        w.object,
        w.active,
        w.trigger,
        w.conditions,
        w.actions,
        CASE replace(t.target_table, '{work_order}', s.work_order_table)
            WHEN '' THEN NULL
            ELSE replace(t.target_table, '{work_order}', s.work_order_table)
        END AS target_table
    FROM raw.workflows_current AS w
    CROSS JOIN settings AS s
    LEFT JOIN object_tables AS t
        ON t.object = w.object AND t.profile IN ('any', s.profile)
),
triggers AS (
    SELECT DISTINCT ON (f.id)
        f.id,
        r.kind,
        r.connector,
        r.operation,
        r.change_type,
        r.frequency,
        regexp_extract(lower(f.trigger), 'at (\d{1,2}:\d{2})', 1) AS at_time
    FROM flows AS f
    LEFT JOIN trigger_rules AS r ON regexp_matches(lower(trim(f.trigger)), r.pattern)
    ORDER BY f.id, r.position
),
clause_lists AS (
    SELECT id, object, target_table,
           string_split_regex(trim(coalesce(conditions, '')), '\s+and\s+') AS parts
    FROM flows
),
clauses AS (
    SELECT id, object, target_table,
           generate_subscripts(parts, 1) AS pos,
           trim(unnest(parts)) AS clause
    FROM clause_lists
),
parsed AS (
    SELECT
        c.*,
        CASE
            WHEN c.clause = ''                                                   THEN 'none'
            WHEN regexp_matches(c.clause, '^\w+ = ''[^'']*''$')                 THEN 'eq'
            WHEN regexp_matches(c.clause, '^\w+ in \(.*\)$')                    THEN 'in'
            WHEN regexp_matches(c.clause, '^\w+ changed to ''[^'']*''$')        THEN 'changed'
            WHEN regexp_matches(c.clause, '^\w+ is empty$')                      THEN 'empty'
            WHEN regexp_matches(c.clause, '^\w+ = (true|false)$')                THEN 'bool'
            WHEN regexp_matches(c.clause, '^\w+ below \d+(\.\d+)?$')             THEN 'below'
            WHEN regexp_matches(c.clause, '^\w+ above \d+(\.\d+)?$')             THEN 'above'
            WHEN regexp_matches(c.clause, '^\w+ within \d+ days?$')              THEN 'within_days'
            WHEN regexp_matches(c.clause, '^created more than \d+ hours? ago$')  THEN 'older_hours'
            ELSE 'unknown'
        END AS kind,
        regexp_extract(c.clause, '^(\w+)', 1) AS field,
        regexp_extract(c.clause, '(\d+(\.\d+)?)', 1) AS number
    FROM clauses AS c
),
resolved AS (
    SELECT
        p.*,
        coalesce(
            fc.target_column,
            CASE WHEN p.field LIKE 'cf\_%' ESCAPE '\' THEN '{{prefix}}_' || replace(substr(p.field, 4), '_', '') END
        ) AS target_column,
        fc.true_filter,
        CASE p.kind
            WHEN 'in' THEN regexp_extract_all(p.clause, '''([^'']*)''', 1)
            WHEN 'eq' THEN [regexp_extract(p.clause, '''([^'']*)''', 1)]
            WHEN 'changed' THEN [regexp_extract(p.clause, '''([^'']*)''', 1)]
            ELSE []::VARCHAR[]
        END AS source_values
    FROM parsed AS p
    LEFT JOIN field_columns AS fc ON fc.object = p.object AND fc.field = p.field
),
value_rows AS (
    SELECT r.id, r.pos, unnest(r.source_values) AS source_value
    FROM resolved AS r
),
value_filters AS (
    SELECT
        v.id, v.pos, v.source_value,
        (SELECT string_agg(o.target_column || ' eq ' || o.target_value::VARCHAR, ' and ' ORDER BY o.target_column)
         FROM map.optionset AS o
         WHERE o.source_object = r.object AND o.source_field = r.field
           AND o.source_value = v.source_value AND o.target_table = r.target_table) AS option_filter,
        (SELECT string_agg(DISTINCT o.target_column, ',' ORDER BY o.target_column)
         FROM map.optionset AS o
         WHERE o.source_object = r.object AND o.source_field = r.field
           AND o.source_value = v.source_value AND o.target_table = r.target_table) AS option_columns,
        r.target_column
    FROM value_rows AS v
    JOIN resolved AS r USING (id, pos)
),
value_agg AS (
    SELECT
        id, pos,
        count(*)                                     AS values,
        count(*) FILTER (option_filter IS NOT NULL OR target_column IS NOT NULL) AS translated,
        string_agg(
            coalesce(
                CASE WHEN option_filter LIKE '% and %' THEN '(' || option_filter || ')' ELSE option_filter END,
                target_column || ' eq ''' || replace(source_value, '''', '''''') || ''''
            ),
            ' or ') AS filter,
        string_agg(DISTINCT option_columns, ',')     AS select_columns
    FROM value_filters
    GROUP BY id, pos
),
clause_filters AS (
    SELECT
        r.id, r.pos, r.clause, r.kind,
        CASE
            WHEN r.kind = 'older_hours'
                THEN 'Microsoft.Dynamics.CRM.OlderThanXHours(PropertyName=''createdon'',PropertyValue=' || r.number || ')'
            WHEN r.kind IN ('eq', 'changed') AND a.translated = a.values THEN a.filter
            WHEN r.kind = 'in' AND a.translated = a.values THEN '(' || a.filter || ')'
            WHEN r.target_column IS NULL THEN NULL
            WHEN r.kind = 'empty' THEN r.target_column || ' eq null'
            WHEN r.kind = 'bool' AND r.clause LIKE '%= true' THEN coalesce(r.true_filter, r.target_column || ' eq true')
            WHEN r.kind = 'bool' THEN r.target_column || ' eq false'
            WHEN r.kind = 'below' THEN r.target_column || ' lt ' || r.number
            WHEN r.kind = 'above' THEN r.target_column || ' gt ' || r.number
            WHEN r.kind = 'within_days'
                THEN 'Microsoft.Dynamics.CRM.NextXDays(PropertyName=''' || r.target_column || ''',PropertyValue=' || r.number || ')'
        END AS filter,
        CASE WHEN r.kind = 'changed' THEN coalesce(a.select_columns, r.target_column) END AS select_columns
    FROM resolved AS r
    LEFT JOIN value_agg AS a USING (id, pos)
    WHERE r.kind <> 'none'
),
conditions AS (
    SELECT
        id,
        string_agg(filter, ' and ' ORDER BY pos) FILTER (filter IS NOT NULL)       AS filter_rows,
        string_agg(select_columns, ',' ORDER BY pos) FILTER (select_columns IS NOT NULL) AS select_columns,
        list({'clause': clause, 'filter': filter} ORDER BY pos)                     AS clauses,
        count(*) FILTER (filter IS NULL)                                           AS untranslated
    FROM clause_filters
    GROUP BY id
),
action_lists AS (
    SELECT id, target_table, string_split_regex(trim(coalesce(actions, '')), '\s*;\s*') AS parts
    FROM flows
),
action_items AS (
    SELECT id, target_table, generate_subscripts(parts, 1) AS pos, trim(unnest(parts)) AS action
    FROM action_lists
),
matched_actions AS (
    SELECT DISTINCT ON (a.id, a.pos)
        a.id, a.pos, a.action, a.target_table AS trigger_table,
        r.connector, r.operation, r.target_table, r.how,
        regexp_extract(lower(a.action), 'after (\d+) (minute|hour|day|week)s?', 1) AS delay_count,
        regexp_extract(lower(a.action), 'after (\d+) (minute|hour|day|week)s?', 2) AS delay_unit
    FROM action_items AS a
    LEFT JOIN action_rules AS r ON regexp_matches(lower(a.action), r.pattern)
    WHERE a.action <> ''
    ORDER BY a.id, a.pos, r.position
),
steps AS (
    SELECT
        m.id,
        list({
            'source': m.action,
            'by_hand': m.connector IS NULL,
            'connector': coalesce(m.connector, 'rebuild by hand'),
            'operation': m.operation,
            'table': CASE
                WHEN m.target_table = '{work_order}' THEN s.work_order_table
                WHEN m.target_table = '{self}' THEN m.trigger_table
                ELSE m.target_table
            END,
            'how': coalesce(m.how, 'No rule in reports/workflows.sql matches this action: build it by hand from the original text, or add a rule.'),
            'delay': CASE WHEN m.delay_count <> '' THEN 'Delay ' || m.delay_count || ' ' || m.delay_unit || '(s) first (Schedule connector, "Delay")' END
        } ORDER BY m.pos) AS steps,
        count(*) FILTER (m.connector IS NULL) AS by_hand_steps
    FROM matched_actions AS m
    CROSS JOIN settings AS s
    GROUP BY m.id
)
SELECT
    f.id,
    f.name,
    f.object,
    f.active,
    f.trigger,
    f.conditions,
    f.actions,
    f.target_table,
    coalesce(t.kind, 'unknown')                          AS trigger_kind,
    coalesce(t.connector, 'rebuild by hand')             AS trigger_connector,
    t.operation                                          AS trigger_operation,
    t.change_type,
    t.frequency,
    nullif(t.at_time, '')                                AS at_time,
    c.filter_rows,
    c.select_columns,
    coalesce(c.clauses, [])                              AS clauses,
    coalesce(c.untranslated, 0)                          AS untranslated_conditions,
    coalesce(st.steps, [])                               AS steps,
    coalesce(st.by_hand_steps, 0)                        AS by_hand_steps,
    (t.kind IS NULL OR f.target_table IS NULL
        OR coalesce(c.untranslated, 0) > 0 OR coalesce(st.by_hand_steps, 0) > 0) AS needs_hand_work
FROM flows AS f
LEFT JOIN triggers AS t USING (id)
LEFT JOIN conditions AS c USING (id)
LEFT JOIN steps AS st USING (id)
ORDER BY f.active DESC, f.object, f.name, f.id;
