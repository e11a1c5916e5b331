-- A personal column is sealed under the name of the event field it copies (issue 10).
--
-- call_logs.customer_number is sealed as customerNumber, recording_source_url as recordingUrl,
-- recording_stereo_source_url as stereoRecordingUrl, recording_downloads.user_agent as userAgent (transcript,
-- summary and ip keep their names). The sealed value of a field in the log is then the sealed value of its column:
-- the call_logs projector copies it as it is, without opening and sealing again, which is most of what a replay
-- of the log used to cost. Rows written before were sealed under the column names, so both read models are
-- emptied and their checkpoints reset: the projection runner replays them from the log at the first start (the
-- calls list fills up again as it does; `callrec replay` does the same at once).
delete from call_logs;
delete from recording_downloads;
update checkpoints set position = 0, updated_at = now() where name in ('call_logs', 'recording_downloads');
