-- Every approval message posted for a request is kept: an escalation posts another one, often
-- in the same channel, and each must show the outcome once the request is decided.
ALTER TABLE chat_messages DROP CONSTRAINT chat_messages_pkey;
ALTER TABLE chat_messages ADD PRIMARY KEY (request_id, platform, conversation, message_id);
