-- Dead letters: what the jobs refused, by job, stage and kind of reason.
--
-- Run:  cxstream sql sql/examples/dead_letters.sql --bounded
--
-- Reads `dlq` (topic cx.dlq). stage is 'decode' (bytes the format could not read), 'validate' (a
-- record that breaks its contract) or 'late' (behind the watermark). A reason reads like
-- "invalid: unknown channel" or "late: behind the watermark by 12 s"; the part before the first
-- digit groups alike reasons ("late: behind the watermark by ").

SELECT
  job,
  stage,
  REGEXP_EXTRACT(reason, '^([^0-9]*)', 1) AS reason_kind,
  COUNT(*)                                 AS letters,
  MAX(detected_at)                         AS latest
FROM dlq
GROUP BY job, stage, REGEXP_EXTRACT(reason, '^([^0-9]*)', 1);
