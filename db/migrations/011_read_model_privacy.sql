-- Read models hold no readable personal data (issue 14).
--
-- From this version the projectors write the personal columns of call_logs (customer_number,
-- recording_source_url, recording_stereo_source_url, transcript, summary) and of recording_downloads (ip,
-- user_agent) sealed with the call's data key (call_keys), and call_logs.search is a blind index: the tsvector
-- of HMAC tokens of the words, not of the words. Rows written before hold plaintext and a word index, so both
-- read models are emptied and their checkpoints reset: the projection runner replays them from the log at
-- the first start (the calls list fills up again as it does; `callrec replay` does the same at once).
delete from call_logs;
delete from recording_downloads;
update checkpoints set position = 0, updated_at = now() where name in ('call_logs', 'recording_downloads');

comment on column call_logs.search is
  'blind full-text index: tsvector of blinded tokens (HMAC under a key derived from PII_MASTER_KEY) of the words of transcript and summary, at their positions';
