-- rfm_segments (issue 3): the whole RFM job in one call. The segments area
-- (issue 7) calls exactly this signature and these column names.

CREATE FUNCTION rfm_segments(
    orders            regclass,
    key_type          anyelement,
    customer_column   text DEFAULT 'customer_id',
    ordered_at_column text DEFAULT 'ordered_at',
    amount_column     text DEFAULT 'amount',
    as_of             timestamptz DEFAULT now(),
    bins              integer DEFAULT 5,
    map               text DEFAULT 'standard')
RETURNS TABLE (
    customer            anyelement,
    first_order_at      timestamptz,
    last_order_at       timestamptz,
    recency_days        double precision,
    frequency           bigint,
    monetary            numeric,
    avg_order_value     numeric,
    tenure_days         double precision,
    btyd_frequency      integer,
    btyd_recency        double precision,
    btyd_t              double precision,
    btyd_monetary_value double precision,
    r_score             integer,
    f_score             integer,
    m_score             integer,
    rfm_cell            text,
    segment             text)
LANGUAGE c STABLE PARALLEL RESTRICTED ROWS 100000
AS 'MODULE_PATHNAME', 'rfm_segments_wrapper';

COMMENT ON FUNCTION rfm_segments(regclass, anyelement, text, text, text, timestamptz, integer, text) IS
  'one row per customer with orders up to as_of: the rfm fields, quintile (bins) scores r/f/m (recency: more recent is higher), the cell (''545'') and the segment name under map (NULL map: no names); call as rfm_segments(''orders'', NULL::bigint)';
