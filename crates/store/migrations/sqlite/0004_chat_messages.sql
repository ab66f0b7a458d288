-- Where each request's approval message lives, on any chat platform: one row per platform and
-- conversation (Slack: the channel id and the message `ts`). Replaces the Slack-only columns of
-- requests, whose values move here.
CREATE TABLE chat_messages (
    request_id   TEXT NOT NULL REFERENCES requests (id),
    platform     TEXT NOT NULL,
    conversation TEXT NOT NULL,
    message_id   TEXT NOT NULL,
    PRIMARY KEY (request_id, platform, conversation)
);

INSERT INTO chat_messages (request_id, platform, conversation, message_id)
SELECT id, 'slack', slack_channel, slack_ts FROM requests
WHERE slack_channel IS NOT NULL AND slack_ts IS NOT NULL;

ALTER TABLE requests DROP COLUMN slack_channel;
ALTER TABLE requests DROP COLUMN slack_ts;
