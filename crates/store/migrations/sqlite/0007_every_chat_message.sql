-- Every approval message posted for a request is kept: an escalation posts another one, often
-- in the same channel, and each must show the outcome once the request is decided.
CREATE TABLE chat_messages_all (
    request_id   TEXT NOT NULL REFERENCES requests (id),
    platform     TEXT NOT NULL,
    conversation TEXT NOT NULL,
    message_id   TEXT NOT NULL,
    PRIMARY KEY (request_id, platform, conversation, message_id)
);

INSERT INTO chat_messages_all (request_id, platform, conversation, message_id)
SELECT request_id, platform, conversation, message_id FROM chat_messages;

DROP TABLE chat_messages;
ALTER TABLE chat_messages_all RENAME TO chat_messages;
