-- A postgresql database as commit 9b84011 left it: the DDL its create_all emitted (our tables
-- and Rasa 3.6's events table), then a few representative rows. Made once from
-- `git worktree add /tmp/old9b 9b84011`, compiling each store's MetaData for postgresql.
-- tests/test_migrations.py upgrades it.

CREATE TABLE cases (
	id VARCHAR(16) NOT NULL, 
	intent VARCHAR(40) NOT NULL, 
	priority INTEGER NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	channel VARCHAR(32) NOT NULL, 
	sender_id VARCHAR(128) NOT NULL, 
	summary TEXT NOT NULL, 
	details JSON NOT NULL, 
	assignee VARCHAR(64), 
	rating INTEGER, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	claimed_at TIMESTAMP WITH TIME ZONE, 
	resolved_at TIMESTAMP WITH TIME ZONE, 
	PRIMARY KEY (id)
);

CREATE INDEX ix_cases_conversation ON cases (channel, sender_id, status);

CREATE INDEX ix_cases_queue ON cases (status, priority, created_at);

CREATE TABLE case_messages (
	id SERIAL NOT NULL, 
	case_id VARCHAR(16) NOT NULL, 
	at TIMESTAMP WITH TIME ZONE NOT NULL, 
	role VARCHAR(16) NOT NULL, 
	author VARCHAR(128), 
	text TEXT NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(case_id) REFERENCES cases (id)
);

CREATE INDEX ix_case_messages_case_id ON case_messages (case_id);

CREATE TABLE attachments (
	id SERIAL NOT NULL, 
	case_id VARCHAR(16) NOT NULL, 
	at TIMESTAMP WITH TIME ZONE NOT NULL, 
	kind VARCHAR(16) NOT NULL, 
	name VARCHAR(255) NOT NULL, 
	mime_type VARCHAR(100) NOT NULL, 
	size INTEGER NOT NULL, 
	platform_file_id VARCHAR(255), 
	stored_path VARCHAR(500), 
	PRIMARY KEY (id), 
	FOREIGN KEY(case_id) REFERENCES cases (id)
);

CREATE INDEX ix_attachments_case_id ON attachments (case_id);

CREATE TABLE outbox (
	id SERIAL NOT NULL, 
	event VARCHAR(32) NOT NULL, 
	case_id VARCHAR(16) NOT NULL, 
	payload JSON NOT NULL, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(case_id) REFERENCES cases (id)
);

CREATE INDEX ix_outbox_case_id ON outbox (case_id);

CREATE TABLE case_flags (
	case_id VARCHAR(16) NOT NULL, 
	flag VARCHAR(32) NOT NULL, 
	at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (case_id, flag)
);

CREATE TABLE leader_leases (
	name VARCHAR(64) NOT NULL, 
	holder VARCHAR(128) NOT NULL, 
	expires_at FLOAT NOT NULL, 
	PRIMARY KEY (name)
);

CREATE TABLE agent_duty (
	agent VARCHAR(64) NOT NULL, 
	via VARCHAR(16) NOT NULL, 
	telegram_user_id BIGINT, 
	on_since TIMESTAMP WITH TIME ZONE NOT NULL, 
	last_seen TIMESTAMP WITH TIME ZONE NOT NULL, 
	active_until TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (agent)
);

CREATE TABLE desk_sessions (
	token_hash VARCHAR(64) NOT NULL, 
	agent VARCHAR(64) NOT NULL, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	last_seen TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (token_hash)
);

CREATE INDEX ix_desk_sessions_agent ON desk_sessions (agent);

CREATE TABLE deliveries (
	id SERIAL NOT NULL, 
	outbox_id INTEGER NOT NULL, 
	case_id VARCHAR(16) NOT NULL, 
	destination VARCHAR(32) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	attempts INTEGER NOT NULL, 
	next_attempt_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	last_error TEXT, 
	delivered_at TIMESTAMP WITH TIME ZONE, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_delivery_row_destination UNIQUE (outbox_id, destination)
);

CREATE INDEX ix_deliveries_due ON deliveries (destination, status, next_attempt_at);

CREATE TABLE alert_messages (
	id SERIAL NOT NULL, 
	chat_id BIGINT NOT NULL, 
	message_id BIGINT NOT NULL, 
	case_id VARCHAR(16) NOT NULL, 
	at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_alert_message UNIQUE (chat_id, message_id)
);

CREATE INDEX ix_alert_messages_case_id ON alert_messages (case_id);

CREATE TABLE audit_log (
	id SERIAL NOT NULL, 
	at TIMESTAMP WITH TIME ZONE NOT NULL, 
	actor VARCHAR(128) NOT NULL, 
	via VARCHAR(16) NOT NULL, 
	action VARCHAR(32) NOT NULL, 
	case_id VARCHAR(16), 
	allowed BOOLEAN NOT NULL, 
	detail JSON NOT NULL, 
	PRIMARY KEY (id)
);

CREATE INDEX ix_audit_log_case_id ON audit_log (case_id);

CREATE TABLE x_cursors (
	name VARCHAR(64) NOT NULL, 
	value VARCHAR(64) NOT NULL, 
	updated_at FLOAT NOT NULL, 
	PRIMARY KEY (name)
);

CREATE TABLE x_processed (
	kind VARCHAR(16) NOT NULL, 
	event_id VARCHAR(160) NOT NULL, 
	processed_at FLOAT NOT NULL, 
	PRIMARY KEY (kind, event_id)
);

CREATE TABLE x_choices (
	sender_id VARCHAR(128) NOT NULL, 
	choices JSON NOT NULL, 
	updated_at FLOAT NOT NULL, 
	PRIMARY KEY (sender_id)
);

CREATE TABLE rest_mailbox (
	id SERIAL NOT NULL, 
	sender_id VARCHAR(128) NOT NULL, 
	text TEXT NOT NULL, 
	author VARCHAR(64), 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	delivered_at TIMESTAMP WITH TIME ZONE, 
	PRIMARY KEY (id)
);

CREATE INDEX ix_rest_mailbox_sender_id ON rest_mailbox (sender_id);

CREATE TABLE telegram_inbox (
	update_id BIGINT NOT NULL, 
	chat_key VARCHAR(64) NOT NULL, 
	payload JSON, 
	status VARCHAR(16) NOT NULL, 
	claimed_until FLOAT, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	processed_at TIMESTAMP WITH TIME ZONE, 
	PRIMARY KEY (update_id)
);

CREATE INDEX ix_telegram_inbox_status ON telegram_inbox (status);

CREATE INDEX ix_telegram_inbox_chat_key ON telegram_inbox (chat_key);

CREATE TABLE telegram_outbox (
	id SERIAL NOT NULL, 
	chat_id BIGINT NOT NULL, 
	update_id BIGINT, 
	body JSON NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	claimed_until FLOAT, 
	message_id BIGINT, 
	error TEXT, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	sent_at TIMESTAMP WITH TIME ZONE, 
	PRIMARY KEY (id)
);

CREATE INDEX ix_telegram_outbox_update_id ON telegram_outbox (update_id);

CREATE INDEX ix_telegram_outbox_chat_id ON telegram_outbox (chat_id);

CREATE INDEX ix_telegram_outbox_status ON telegram_outbox (status);

CREATE TABLE telegram_callbacks (
	key VARCHAR(32) NOT NULL, 
	payload TEXT NOT NULL, 
	PRIMARY KEY (key)
);

CREATE TABLE events (
	id SERIAL NOT NULL, 
	sender_id VARCHAR(255) NOT NULL, 
	type_name VARCHAR(255) NOT NULL, 
	timestamp FLOAT, 
	intent_name VARCHAR(255), 
	action_name VARCHAR(255), 
	data TEXT, 
	PRIMARY KEY (id)
);

CREATE INDEX ix_events_sender_id ON events (sender_id);


-- Rows: two cases and what hangs off them, an agent signed in, the channels' bookkeeping,
-- and Telegram updates and replies in every state 9b84011 knew.
INSERT INTO cases VALUES ('CX-7K3M9Q', 'account_theft', 1, 'open', 'telegram', 'tg:1001:1001', 'account stolen', '{"coin": "BTC"}', NULL, NULL, '2026-03-01 10:00:00+00', '2026-03-01 10:00:05+00', NULL, NULL);
INSERT INTO cases VALUES ('CX-2B4D6F', 'fees', 4, 'resolved', 'rest', 'rest:Qm9vb29vb29vb29vb29vb29v', 'fee question', '{}', 'alice', 5, '2026-03-01 09:00:00+00', '2026-03-01 09:30:00+00', '2026-03-01 09:10:00+00', '2026-03-01 09:30:00+00');
INSERT INTO case_messages (case_id, at, role, author, text) VALUES ('CX-7K3M9Q', '2026-03-01 10:00:00+00', 'customer', NULL, 'someone took my account');
INSERT INTO case_messages (case_id, at, role, author, text) VALUES ('CX-7K3M9Q', '2026-03-01 10:00:01+00', 'bot', NULL, 'Your case is CX-7K3M9Q.');
INSERT INTO case_messages (case_id, at, role, author, text) VALUES ('CX-2B4D6F', '2026-03-01 09:00:00+00', 'customer', NULL, 'what is the BTC fee?');
INSERT INTO attachments (case_id, at, kind, name, mime_type, size, platform_file_id, stored_path) VALUES ('CX-7K3M9Q', '2026-03-01 10:00:02+00', 'photo', 'screen.jpg', 'image/jpeg', 1234, 'AgACAgQ', NULL);
INSERT INTO outbox (event, case_id, payload, created_at) VALUES ('case_opened', 'CX-7K3M9Q', '{"priority": 1}', '2026-03-01 10:00:00+00');
INSERT INTO outbox (event, case_id, payload, created_at) VALUES ('case_opened', 'CX-2B4D6F', '{"priority": 4}', '2026-03-01 09:00:00+00');
INSERT INTO deliveries (outbox_id, case_id, destination, status, attempts, next_attempt_at, last_error, delivered_at) VALUES (1, 'CX-7K3M9Q', 'telegram_group', 'pending', 2, '2026-03-01 10:00:08+00', 'timed out', NULL);
INSERT INTO deliveries (outbox_id, case_id, destination, status, attempts, next_attempt_at, last_error, delivered_at) VALUES (2, 'CX-2B4D6F', 'telegram_group', 'delivered', 1, '2026-03-01 09:00:00+00', NULL, '2026-03-01 09:00:01+00');
INSERT INTO alert_messages (chat_id, message_id, case_id, at) VALUES (-100200300, 77, 'CX-2B4D6F', '2026-03-01 09:00:01+00');
INSERT INTO case_flags VALUES ('CX-7K3M9Q', 'p1_realert', '2026-03-01 10:05:00+00');
INSERT INTO audit_log (at, actor, via, action, case_id, allowed, detail) VALUES ('2026-03-01 09:10:00+00', 'alice', 'desk', 'claim', 'CX-2B4D6F', true, '{}');
INSERT INTO agent_duty VALUES ('alice', 'desk', NULL, '2026-03-01 08:00:00+00', '2026-03-01 09:30:00+00', '2026-03-01 10:00:00+00');
INSERT INTO desk_sessions VALUES ('5f0c2a4e9b7d1c3e8a6f4b2d0e9c7a5b3f1d8e6c4a2b0f9e7d5c3a1b8f6e4d2c', 'alice', '2026-03-01 08:00:00+00', '2026-03-01 09:30:00+00');
INSERT INTO leader_leases VALUES ('telegram_poller', 'host-a:5005', 1772359200.5);
INSERT INTO x_cursors VALUES ('mentions_since_id', '1765432109876543210', 1772359200.0);
INSERT INTO x_processed VALUES ('dm', '1765432109876543211', 1772359201.0);
INSERT INTO x_choices VALUES ('x:42', '["withdrawal_stuck", "deposit_missing"]', 1772359202.0);
INSERT INTO rest_mailbox (sender_id, text, author, created_at, delivered_at) VALUES ('rest:Qm9vb29vb29vb29vb29vb29v', 'Fees are listed on the fees page.', 'alice', '2026-03-01 09:20:00+00', NULL);
INSERT INTO telegram_callbacks VALUES ('0123456789abcdef01234567', '/inform{"coin": "BTC", "network": "bitcoin"}');
-- 500 done; 501 was being handled when the old process stopped; 502 waits behind it; 503 failed.
INSERT INTO telegram_inbox VALUES (500, '1001', NULL, 'done', NULL, '2026-03-01 10:00:00+00', '2026-03-01 10:00:03+00');
INSERT INTO telegram_inbox VALUES (501, '1001', '{"update_id": 501, "message": {"message_id": 11, "date": 1772359300, "chat": {"id": 1001, "type": "private"}, "from": {"id": 1001, "is_bot": false, "first_name": "Ann"}, "text": "it was at 9:40"}}', 'pending', 1772359420.0, '2026-03-01 10:01:40+00', NULL);
INSERT INTO telegram_inbox VALUES (502, '1001', '{"update_id": 502, "message": {"message_id": 12, "date": 1772359310, "chat": {"id": 1001, "type": "private"}, "from": {"id": 1001, "is_bot": false, "first_name": "Ann"}, "text": "please hurry"}}', 'pending', NULL, '2026-03-01 10:01:50+00', NULL);
INSERT INTO telegram_inbox VALUES (503, '2002', NULL, 'failed', NULL, '2026-03-01 10:02:00+00', '2026-03-01 10:02:01+00');
-- Replies, ids 1..6: two sent for 500; for 501 one mid-send and one pending; 503's timed out; one without an update.
INSERT INTO telegram_outbox (chat_id, update_id, body, status, claimed_until, message_id, error, created_at, sent_at) VALUES (1001, 500, '{"kind": "text", "text": "Your case is CX-7K3M9Q."}', 'sent', NULL, 901, NULL, '2026-03-01 10:00:01+00', '2026-03-01 10:00:02+00');
INSERT INTO telegram_outbox (chat_id, update_id, body, status, claimed_until, message_id, error, created_at, sent_at) VALUES (1001, 500, '{"kind": "text", "text": "Change your password now."}', 'sent', NULL, 902, NULL, '2026-03-01 10:00:01+00', '2026-03-01 10:00:03+00');
INSERT INTO telegram_outbox (chat_id, update_id, body, status, claimed_until, message_id, error, created_at, sent_at) VALUES (1001, 501, '{"kind": "text", "text": "Thanks, noted."}', 'sending', 1772359430.0, NULL, NULL, '2026-03-01 10:01:41+00', NULL);
INSERT INTO telegram_outbox (chat_id, update_id, body, status, claimed_until, message_id, error, created_at, sent_at) VALUES (1001, 501, '{"kind": "text", "text": "An agent will reply here."}', 'pending', NULL, NULL, NULL, '2026-03-01 10:01:41+00', NULL);
INSERT INTO telegram_outbox (chat_id, update_id, body, status, claimed_until, message_id, error, created_at, sent_at) VALUES (2002, 503, '{"kind": "text", "text": "Sorry, something went wrong."}', 'uncertain', NULL, NULL, 'TimedOut', '2026-03-01 10:02:01+00', NULL);
INSERT INTO telegram_outbox (chat_id, update_id, body, status, claimed_until, message_id, error, created_at, sent_at) VALUES (3003, NULL, '{"kind": "text", "text": "Hello from the desk."}', 'failed', NULL, NULL, 'Forbidden: bot was blocked by the user', '2026-03-01 10:03:00+00', NULL);
INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name, data) VALUES ('tg:1001:1001', 'user', 1772359200.0, 'account_theft', NULL, '{"event": "user", "text": "someone took my account"}');
