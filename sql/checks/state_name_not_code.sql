-- state_name_not_code (review) — a state written out instead of its code.
--
-- Protects against: inconsistent addresses. ServiceTracker stores US states
-- as 2-letter codes ("IL"), but some records carry the full name
-- ("Illinois"), so views, filters and duplicate detection on
-- address1_stateorprovince / customeraddress.stateorprovince split one state
-- in two (SPEC §8.4 "state names vs codes"). Dataverse keeps state/province
-- as free text, not an option set (SPEC §9 customeraddress), so the value
-- loads as written: a person decides whether to correct it.
--
-- Reported: a billing state / site state that is a US state, DC or
-- territory name, or any value other than two letters on an address in the
-- US (country US, USA, United States or empty). Elsewhere a province may
-- legitimately be written out.

WITH

codes (code, name) AS (
    VALUES
        ('AL', 'Alabama'), ('AK', 'Alaska'), ('AZ', 'Arizona'), ('AR', 'Arkansas'),
        ('CA', 'California'), ('CO', 'Colorado'), ('CT', 'Connecticut'), ('DE', 'Delaware'),
        ('DC', 'District of Columbia'), ('FL', 'Florida'), ('GA', 'Georgia'), ('HI', 'Hawaii'),
        ('ID', 'Idaho'), ('IL', 'Illinois'), ('IN', 'Indiana'), ('IA', 'Iowa'),
        ('KS', 'Kansas'), ('KY', 'Kentucky'), ('LA', 'Louisiana'), ('ME', 'Maine'),
        ('MD', 'Maryland'), ('MA', 'Massachusetts'), ('MI', 'Michigan'), ('MN', 'Minnesota'),
        ('MS', 'Mississippi'), ('MO', 'Missouri'), ('MT', 'Montana'), ('NE', 'Nebraska'),
        ('NV', 'Nevada'), ('NH', 'New Hampshire'), ('NJ', 'New Jersey'), ('NM', 'New Mexico'),
        ('NY', 'New York'), ('NC', 'North Carolina'), ('ND', 'North Dakota'), ('OH', 'Ohio'),
        ('OK', 'Oklahoma'), ('OR', 'Oregon'), ('PA', 'Pennsylvania'), ('RI', 'Rhode Island'),
        ('SC', 'South Carolina'), ('SD', 'South Dakota'), ('TN', 'Tennessee'), ('TX', 'Texas'),
        ('UT', 'Utah'), ('VT', 'Vermont'), ('VA', 'Virginia'), ('WA', 'Washington'),
        ('WV', 'West Virginia'), ('WI', 'Wisconsin'), ('WY', 'Wyoming'),
        ('PR', 'Puerto Rico'), ('GU', 'Guam'), ('VI', 'U.S. Virgin Islands'),
        ('AS', 'American Samoa'), ('MP', 'Northern Mariana Islands')
),

states AS (
    SELECT 'customers' AS object, id, 'billing_state' AS field,
           map.clean_text(billing_state) AS value, map.clean_text(billing_country) AS country
    FROM raw.customers_current
    UNION ALL
    SELECT 'sites', id, 'state', map.clean_text(state), map.clean_text(country)
    FROM raw.sites_current
)

SELECT
    'review'                                  AS severity,
    s.object,
    s.id                                      AS record_id,
    s.field,
    'state_name_not_code'                     AS rule,
    'State "' || s.value || '" is written out instead of as a 2-letter code'
        || CASE WHEN c.code IS NOT NULL THEN ' (' || c.code || ')' ELSE '' END
        || '; it loads as text as written — change it to '
        || coalesce(c.code, 'the code') || ' in ServiceTracker for consistent addresses, or waive this finding.'
                                              AS message
FROM states AS s
LEFT JOIN codes AS c
  ON lower(c.name) = lower(regexp_replace(s.value, '\s+', ' ', 'g'))
WHERE s.value IS NOT NULL
  AND NOT regexp_full_match(s.value, '[A-Za-z]{2}')
  AND (c.code IS NOT NULL
       OR s.country IS NULL
       OR upper(regexp_replace(s.country, '[^A-Za-z]', '', 'g')) IN ('US', 'USA', 'UNITEDSTATES', 'UNITEDSTATESOFAMERICA'))
