-- The first schema: every port of bot/ports.py. Whole documents are jsonb (the same dicts the
-- embedded engine stores); the columns beside them are what is searched, locked or compared.

-- One row: the last case number handed out. Creating a case updates it in the same transaction as
-- the insert, so the row lock serializes creators: numbers are gapless and in commit order.
CREATE TABLE case_counter (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    last_number bigint NOT NULL
);

CREATE TABLE cases (
    number bigint PRIMARY KEY,
    created_at timestamptz NOT NULL,
    status text NOT NULL,
    is_open boolean NOT NULL,
    customer text NOT NULL,
    reporter_platform text NOT NULL,
    reporter_workspace text NOT NULL,
    reporter_user text NOT NULL,
    category text NOT NULL,
    version integer NOT NULL,
    doc jsonb NOT NULL
);
CREATE INDEX cases_open ON cases (number) WHERE is_open;
CREATE INDEX cases_reporter ON cases (reporter_platform, reporter_workspace, reporter_user, number);
CREATE INDEX cases_customer ON cases (customer, number);
CREATE INDEX cases_created_at ON cases (created_at);

-- Page records: a step is claimed by a compare-and-set of `version`; `next_due` is when a runner
-- must look at the record again (the earlier of the next step and the next reminder).
CREATE TABLE pages (
    case_number bigint PRIMARY KEY,
    version integer NOT NULL,
    next_due timestamptz,
    doc jsonb NOT NULL
);
CREATE INDEX pages_due ON pages (next_due) WHERE next_due IS NOT NULL;

CREATE TABLE conversations (
    key text PRIMARY KEY,
    state jsonb NOT NULL,
    updated_at timestamptz NOT NULL,
    is_open boolean NOT NULL,
    e_tag bigint NOT NULL
);
CREATE INDEX conversations_age ON conversations (is_open, updated_at);

-- Each delivery taken, until when a second sighting is a duplicate.
CREATE TABLE deliveries (
    key text PRIMARY KEY,
    until timestamptz NOT NULL
);
CREATE INDEX deliveries_until ON deliveries (until);

-- Platform records (Slack installations and OAuth state, Teams references and cards).
CREATE TABLE records (
    kind text NOT NULL,
    key text NOT NULL,
    doc jsonb NOT NULL,
    PRIMARY KEY (kind, key)
);
