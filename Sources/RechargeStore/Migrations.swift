import Foundation
import SQLKit

/// One ordered schema change. `statements` receives the database so the few engine-specific spellings
/// (the identity column) come from one place; everything else is the same SQL on both engines.
struct Migration: Sendable {
    let version: Int
    let name: String
    let statements: @Sendable (Database) -> [String]
}

/// The schema, as an ordered list of migrations applied once each and recorded in `schema_migrations`.
/// Add a migration at the end; never edit one that has shipped.
public enum Migrations {
    static let all: [Migration] = [
        Migration(version: 1, name: "ledger") { db in
            let id = db.identityColumn
            return [
                """
                CREATE TABLE subscribers (
                    id \(id),
                    name TEXT,
                    email TEXT,
                    language TEXT NOT NULL DEFAULT 'en',
                    created_at BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE lines (
                    id \(id),
                    msisdn TEXT NOT NULL UNIQUE,
                    iccid TEXT UNIQUE,
                    type TEXT NOT NULL CHECK (type IN ('prepaid', 'postpaid')),
                    status TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'terminated')),
                    currency TEXT NOT NULL,
                    credit_limit BIGINT NOT NULL DEFAULT 0 CHECK (credit_limit >= 0),
                    subscriber_id BIGINT REFERENCES subscribers (id),
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE ledger_accounts (
                    id \(id),
                    code TEXT NOT NULL UNIQUE,
                    kind TEXT NOT NULL,
                    unit TEXT NOT NULL,
                    line_id BIGINT REFERENCES lines (id),
                    debits_posted BIGINT NOT NULL DEFAULT 0 CHECK (debits_posted >= 0),
                    credits_posted BIGINT NOT NULL DEFAULT 0 CHECK (credits_posted >= 0),
                    created_at BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE buckets (
                    id \(id),
                    line_id BIGINT NOT NULL REFERENCES lines (id),
                    account_id BIGINT NOT NULL UNIQUE REFERENCES ledger_accounts (id),
                    kind TEXT NOT NULL CHECK (kind IN ('monetary', 'data', 'voice', 'sms')),
                    unit TEXT NOT NULL,
                    name TEXT,
                    initial_amount BIGINT NOT NULL,
                    floor BIGINT NOT NULL DEFAULT 0 CHECK (floor <= 0),
                    valid_from BIGINT NOT NULL,
                    valid_until BIGINT,
                    priority INTEGER NOT NULL,
                    is_main INTEGER NOT NULL DEFAULT 0 CHECK (is_main IN (0, 1)),
                    created_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX buckets_by_line ON buckets (line_id)",
                """
                CREATE TABLE operations (
                    id \(id),
                    idempotency_key TEXT NOT NULL UNIQUE,
                    fingerprint TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    line_id BIGINT REFERENCES lines (id),
                    outcome TEXT NOT NULL CHECK (outcome IN ('pending', 'applied', 'rejected')),
                    result TEXT,
                    created_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX operations_by_line ON operations (line_id, id)",
                """
                CREATE TABLE transfers (
                    id \(id),
                    operation_id BIGINT NOT NULL REFERENCES operations (id),
                    leg INTEGER NOT NULL,
                    debit_account_id BIGINT NOT NULL REFERENCES ledger_accounts (id),
                    credit_account_id BIGINT NOT NULL REFERENCES ledger_accounts (id),
                    amount BIGINT NOT NULL CHECK (amount > 0),
                    unit TEXT NOT NULL,
                    reason TEXT NOT NULL,
                    channel TEXT NOT NULL,
                    reference TEXT,
                    line_id BIGINT REFERENCES lines (id),
                    created_at BIGINT NOT NULL,
                    UNIQUE (operation_id, leg),
                    CHECK (debit_account_id <> credit_account_id)
                )
                """,
                "CREATE INDEX transfers_by_line ON transfers (line_id, id)",
                """
                CREATE TABLE api_keys (
                    id \(id),
                    name TEXT NOT NULL,
                    prefix TEXT NOT NULL UNIQUE,
                    secret_hash TEXT NOT NULL UNIQUE,
                    scope TEXT NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
                    created_at BIGINT NOT NULL,
                    revoked_at BIGINT
                )
                """,
            ]
        },
        Migration(version: 2, name: "outbox") { db in
            let id = db.identityColumn
            return [
                // One row per message per channel. UNIQUE (event_key, channel): an event is queued once per channel.
                // provider_id is the SMPP message_id of the first part or the SMTP queue reply; delivered_at is set by
                // the SMPP delivery receipt. claimed_until is the lease of the node sending it ('sending').
                """
                CREATE TABLE outbox (
                    id \(id),
                    event_key TEXT NOT NULL,
                    channel TEXT NOT NULL CHECK (channel IN ('sms', 'email', 'dev')),
                    recipient TEXT NOT NULL,
                    language TEXT NOT NULL,
                    event TEXT NOT NULL,
                    payload TEXT NOT NULL,
                    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sending', 'sent', 'dead')),
                    attempts INTEGER NOT NULL DEFAULT 0,
                    next_attempt_at BIGINT NOT NULL,
                    claimed_until BIGINT,
                    last_error TEXT,
                    provider_id TEXT,
                    delivered_at BIGINT,
                    created_at BIGINT NOT NULL,
                    sent_at BIGINT,
                    UNIQUE (event_key, channel)
                )
                """,
                "CREATE INDEX outbox_due ON outbox (state, next_attempt_at, id)",
                "CREATE INDEX outbox_leases ON outbox (state, claimed_until)",
                "CREATE INDEX outbox_provider ON outbox (provider_id)",
                // Where an SMS's `sent` mark and its delivery receipt meet: the SMSC may send the receipt before the
                // mark is committed. Both upsert the row of the provider id first, so on PostgreSQL the second waits
                // for the first; a row stays only while one side has not arrived yet.
                """
                CREATE TABLE outbox_receipts (
                    provider_id TEXT PRIMARY KEY,
                    delivered_at BIGINT,
                    created_at BIGINT NOT NULL
                )
                """,
                // Per line; a missing row means the defaults: SMS on to the line's MSISDN, email to the subscriber's
                // address, the subscriber's language, the default low-balance threshold (5.00 in the line's currency,
                // LowBalanceAlarm.defaultThresholdMajorUnits) and an armed alarm.
                """
                CREATE TABLE notification_preferences (
                    line_id BIGINT PRIMARY KEY REFERENCES lines (id),
                    sms_enabled INTEGER NOT NULL DEFAULT 1 CHECK (sms_enabled IN (0, 1)),
                    email_enabled INTEGER NOT NULL DEFAULT 1 CHECK (email_enabled IN (0, 1)),
                    email TEXT,
                    language TEXT,
                    low_balance_threshold BIGINT CHECK (low_balance_threshold >= 0),
                    low_balance_armed INTEGER NOT NULL DEFAULT 1 CHECK (low_balance_armed IN (0, 1)),
                    updated_at BIGINT NOT NULL
                )
                """,
            ]
        },
        Migration(version: 3, name: "reminders_and_preferences") { _ in
            [
                // Validity reminders already queued: one row per (bucket, notice), written in the transaction that
                // queues the reminder, so a scan (on any node) never queues one twice, whatever the line's channels.
                """
                CREATE TABLE bucket_reminders (
                    bucket_id BIGINT NOT NULL REFERENCES buckets (id),
                    notice_days INTEGER NOT NULL CHECK (notice_days IN (1, 7)),
                    created_at BIGINT NOT NULL,
                    PRIMARY KEY (bucket_id, notice_days)
                )
                """,
                "CREATE INDEX buckets_by_expiry ON buckets (valid_until)",
                // Counts changes of a line's notification email: the event key of the `contact_changed` notices.
                "ALTER TABLE notification_preferences ADD COLUMN email_version BIGINT NOT NULL DEFAULT 0",
                // A delivery receipt with a final state other than delivered (UNDELIV, REJECTD, EXPIRED …) that
                // overtook the sent mark of its message waits here like a delivered one.
                "ALTER TABLE outbox_receipts ADD COLUMN failure TEXT",
                // Who runs a periodic job (the reminder scan) until when: one node at a time; another takes over
                // when the holder stops renewing.
                """
                CREATE TABLE service_leases (
                    name TEXT PRIMARY KEY,
                    holder TEXT NOT NULL,
                    expires_at BIGINT NOT NULL
                )
                """,
            ]
        },
        Migration(version: 4, name: "catalog_and_orders") { db in
            [
                // One row per product; `definition` is the product's catalog entry as JSON (what import wrote).
                """
                CREATE TABLE products (
                    code TEXT PRIMARY KEY,
                    kind TEXT NOT NULL CHECK (kind IN ('top_up', 'pack', 'plan')),
                    active INTEGER NOT NULL CHECK (active IN (0, 1)),
                    position INTEGER NOT NULL,
                    definition TEXT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                // Catalog-wide settings (the custom top-up ranges), as JSON.
                """
                CREATE TABLE catalog_settings (
                    name TEXT PRIMARY KEY,
                    value TEXT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                // `quote` is the order's OrderQuote as JSON, fixed at creation; price columns repeat it for queries.
                // `creation_key` is "<msisdn> <Idempotency-Key>" of the request that created the order.
                """
                CREATE TABLE orders (
                    id TEXT PRIMARY KEY,
                    line_id BIGINT NOT NULL REFERENCES lines (id),
                    msisdn TEXT NOT NULL,
                    state TEXT NOT NULL CHECK (state IN ('created', 'awaiting_payment', 'paid', 'fulfilled', 'failed',
                        'expired', 'cancelled', 'refunded', 'partially_refunded')),
                    payment_method TEXT NOT NULL,
                    price_micros BIGINT NOT NULL CHECK (price_micros > 0),
                    currency TEXT NOT NULL,
                    quote TEXT NOT NULL,
                    provider_reference TEXT,
                    failure_reason TEXT,
                    operation_ids TEXT NOT NULL DEFAULT '',
                    creation_key TEXT NOT NULL UNIQUE,
                    fingerprint TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    expires_at BIGINT NOT NULL,
                    paid_at BIGINT,
                    fulfilled_at BIGINT,
                    balance_after_micros BIGINT
                )
                """,
                "CREATE INDEX orders_by_line ON orders (line_id, created_at)",
                // Bank transfers are matched to orders by the payment reference, kept as the provider reference.
                "CREATE UNIQUE INDEX orders_by_provider_reference ON orders (payment_method, provider_reference)",
                "CREATE INDEX orders_open_by_expiry ON orders (state, expires_at)",
                // Every verified provider notification, once: (provider, event_id) is unique, so a replay or a
                // concurrent duplicate finds its row and changes nothing.
                """
                CREATE TABLE payment_events (
                    id \(db.identityColumn),
                    provider TEXT NOT NULL,
                    event_id TEXT NOT NULL,
                    order_id TEXT NOT NULL REFERENCES orders (id),
                    outcome TEXT NOT NULL,
                    amount_micros BIGINT NOT NULL,
                    currency TEXT NOT NULL,
                    received_at BIGINT NOT NULL,
                    UNIQUE (provider, event_id)
                )
                """,
                "CREATE INDEX payment_events_by_order ON payment_events (order_id)",
                // Uses of promotions with limits, held by live orders (created, awaiting payment, failed, paid, fulfilled):
                // a conditional UPDATE … WHERE used < limit takes one, so racing orders can never exceed it.
                // Money given back on an order, through the provider it came from. `pending` while the provider is
                // asked (the ledger reversal is already in, in the same transaction as the order's state change).
                """
                CREATE TABLE refunds (
                    id TEXT PRIMARY KEY,
                    order_id TEXT NOT NULL REFERENCES orders (id),
                    amount_micros BIGINT NOT NULL CHECK (amount_micros > 0),
                    currency TEXT NOT NULL,
                    state TEXT NOT NULL CHECK (state IN ('pending', 'succeeded', 'failed')),
                    reason TEXT NOT NULL,
                    provider_reference TEXT,
                    operation_id BIGINT,
                    balance_after_micros BIGINT,
                    creation_key TEXT NOT NULL UNIQUE,
                    fingerprint TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX refunds_by_order ON refunds (order_id)",
                // A payer's dispute (chargeback): while open, what it could take back is off the balance and the
                // line is suspended; closing it (won or lost) reactivates the line, and a win gives the money back.
                """
                CREATE TABLE disputes (
                    id TEXT PRIMARY KEY,
                    provider TEXT NOT NULL,
                    order_id TEXT NOT NULL REFERENCES orders (id),
                    amount_micros BIGINT NOT NULL,
                    debited_micros BIGINT NOT NULL,
                    currency TEXT NOT NULL,
                    state TEXT NOT NULL CHECK (state IN ('open', 'won', 'lost')),
                    suspended_line INTEGER NOT NULL CHECK (suspended_line IN (0, 1)),
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                // Bank statement credits that matched no order (or not its amount): an operator looks at them.
                // (account, entry_reference) is unique, so importing a statement twice adds nothing.
                """
                CREATE TABLE bank_review (
                    id \(db.identityColumn),
                    account TEXT NOT NULL,
                    entry_reference TEXT NOT NULL,
                    outcome TEXT NOT NULL,
                    order_id TEXT,
                    amount_micros BIGINT NOT NULL,
                    currency TEXT NOT NULL,
                    booking_date TEXT NOT NULL,
                    debtor TEXT,
                    remittance TEXT NOT NULL,
                    state TEXT NOT NULL CHECK (state IN ('open', 'resolved')),
                    created_at BIGINT NOT NULL,
                    UNIQUE (account, entry_reference)
                )
                """,
                """
                CREATE TABLE promotion_usage (
                    promotion TEXT PRIMARY KEY,
                    used BIGINT NOT NULL CHECK (used >= 0),
                    updated_at BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE promotion_line_usage (
                    promotion TEXT NOT NULL,
                    line_id BIGINT NOT NULL REFERENCES lines (id),
                    used BIGINT NOT NULL CHECK (used >= 0),
                    updated_at BIGINT NOT NULL,
                    PRIMARY KEY (promotion, line_id)
                )
                """,
            ]
        },
        Migration(version: 5, name: "vouchers") { db in
            // On SQLite `INTEGER PRIMARY KEY` makes the serial the row id itself (no second index to fill when a
            // million cards are written); PostgreSQL needs the 64-bit spelling.
            let serial = db.dialect == .sqlite ? "INTEGER PRIMARY KEY" : "BIGINT PRIMARY KEY"
            return [
                // Serial numbers are handed out by one conditional UPDATE … RETURNING, so concurrent batch creations
                // (on any node) get disjoint ranges. Printed serials start at 10 digits.
                """
                CREATE TABLE voucher_serials (
                    name TEXT PRIMARY KEY,
                    next_serial BIGINT NOT NULL
                )
                """,
                "INSERT INTO voucher_serials (name, next_serial) VALUES ('vouchers', 1000000000)",
                """
                CREATE TABLE voucher_batches (
                    id \(db.identityColumn),
                    denomination TEXT NOT NULL CHECK (denomination IN ('money', 'pack')),
                    value_micros BIGINT NOT NULL CHECK (value_micros > 0),
                    currency TEXT NOT NULL,
                    product_code TEXT,
                    first_serial BIGINT NOT NULL UNIQUE,
                    last_serial BIGINT NOT NULL,
                    pin_length INTEGER NOT NULL,
                    key_id TEXT NOT NULL,
                    expires_at BIGINT NOT NULL,
                    state TEXT NOT NULL CHECK (state IN ('generating', 'generated', 'exported', 'in_stock', 'active', 'suspended', 'blocked')),
                    created_by TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    exported_at BIGINT,
                    exported_by TEXT,
                    updated_at BIGINT NOT NULL,
                    CHECK (first_serial <= last_serial)
                )
                """,
                // One row per card. The PIN itself is never stored: pin_hmac is HMAC-SHA256(key key_id, PIN) in hex, and
                // redemption finds the card by probing its unique index. Redemption is the single conditional
                // UPDATE … WHERE pin_hmac = ? AND state = 'active' … RETURNING, in the transaction of the ledger credit.
                """
                CREATE TABLE vouchers (
                    serial \(serial),
                    batch_id BIGINT NOT NULL REFERENCES voucher_batches (id),
                    pin_hmac TEXT NOT NULL,
                    key_id TEXT NOT NULL,
                    state TEXT NOT NULL CHECK (state IN ('inactive', 'active', 'suspended', 'redeemed', 'blocked', 'expired')),
                    redeemed_at BIGINT,
                    line_id BIGINT REFERENCES lines (id),
                    msisdn TEXT,
                    operation_id BIGINT,
                    updated_at BIGINT
                )
                """,
                "CREATE UNIQUE INDEX vouchers_by_pin ON vouchers (pin_hmac)",
                // PINs of a batch not yet exported, sealed (AES-GCM, base64) under a key derived from the voucher key,
                // in chunks of consecutive serials. The one export reads and deletes them.
                """
                CREATE TABLE voucher_export_staging (
                    batch_id BIGINT NOT NULL REFERENCES voucher_batches (id),
                    chunk INTEGER NOT NULL,
                    first_serial BIGINT NOT NULL,
                    sealed TEXT NOT NULL,
                    PRIMARY KEY (batch_id, chunk)
                )
                """,
                // Activations above the configured amount wait here for a second admin.
                """
                CREATE TABLE voucher_approvals (
                    id \(db.identityColumn),
                    batch_id BIGINT NOT NULL REFERENCES voucher_batches (id),
                    first_serial BIGINT NOT NULL,
                    last_serial BIGINT NOT NULL,
                    value_micros BIGINT NOT NULL,
                    currency TEXT NOT NULL,
                    state TEXT NOT NULL CHECK (state IN ('pending', 'approved')),
                    requested_by TEXT NOT NULL,
                    requested_at BIGINT NOT NULL,
                    decided_by TEXT,
                    decided_at BIGINT
                )
                """,
                // Who did what to which cards: creation, export, stock, activation (requested and approved), suspension, block.
                """
                CREATE TABLE voucher_audit (
                    id \(db.identityColumn),
                    batch_id BIGINT NOT NULL REFERENCES voucher_batches (id),
                    action TEXT NOT NULL,
                    first_serial BIGINT NOT NULL,
                    last_serial BIGINT NOT NULL,
                    affected BIGINT NOT NULL,
                    actor TEXT NOT NULL,
                    detail TEXT,
                    created_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX voucher_audit_by_batch ON voucher_audit (batch_id, id)",
                // Brute-force counters per line, client and channel (VoucherGuessingPolicy), shared by every node.
                """
                CREATE TABLE voucher_guard (
                    subject TEXT PRIMARY KEY,
                    failures INTEGER NOT NULL,
                    window_start BIGINT NOT NULL,
                    lockouts INTEGER NOT NULL,
                    locked_until BIGINT,
                    last_failure BIGINT NOT NULL
                )
                """,
            ]
        },
        Migration(version: 6, name: "pack_renewals") { _ in
            [
                // A pack bought with auto-renewal: renewed from the line's balance before `valid_until`, once per
                // period (`cycle` counts renewals; the ledger keys of a renewal derive from the id and the cycle).
                """
                CREATE TABLE pack_renewals (
                    id TEXT PRIMARY KEY,
                    line_id BIGINT NOT NULL REFERENCES lines (id),
                    product_code TEXT NOT NULL,
                    order_id TEXT NOT NULL UNIQUE REFERENCES orders (id),
                    name TEXT NOT NULL,
                    cycle INTEGER NOT NULL CHECK (cycle >= 0),
                    valid_until BIGINT NOT NULL,
                    state TEXT NOT NULL CHECK (state IN ('active', 'failed', 'cancelled')),
                    failure TEXT,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX pack_renewals_due ON pack_renewals (state, valid_until)",
                "CREATE INDEX pack_renewals_by_line ON pack_renewals (line_id)",
            ]
        },
        Migration(version: 7, name: "accounts") { db in
            [
                // A subscriber's portal account. The password is kept only as the bcrypt string the server made.
                """
                CREATE TABLE accounts (
                    id \(db.identityColumn),
                    phone TEXT NOT NULL UNIQUE,
                    password_hash TEXT NOT NULL,
                    email TEXT,
                    notify_phone TEXT,
                    language TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                // The lines an account proved it owns; UNIQUE (msisdn): a line is on at most one account. `id` keeps
                // the order they were added in.
                """
                CREATE TABLE account_lines (
                    id \(db.identityColumn),
                    msisdn TEXT NOT NULL UNIQUE REFERENCES lines (msisdn),
                    account_id BIGINT NOT NULL REFERENCES accounts (id),
                    added_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX account_lines_by_account ON account_lines (account_id)",
                // Portal sessions. Only the SHA-256 (hex) of the cookie's token is stored, so a copy of the table
                // logs nobody in.
                """
                CREATE TABLE account_sessions (
                    token_hash TEXT PRIMARY KEY,
                    account_id BIGINT NOT NULL REFERENCES accounts (id),
                    csrf_token TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    last_seen_at BIGINT NOT NULL,
                    expires_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX account_sessions_by_account ON account_sessions (account_id)",
                // One-time codes sent by SMS or email. Only a hash of the code is kept (the text itself is only in
                // the outbox event that delivers it); `attempts` counts wrong tries, `consumed_at` is set when it is
                // used or superseded by a newer code for the same purpose and target.
                """
                CREATE TABLE verification_codes (
                    id \(db.identityColumn),
                    purpose TEXT NOT NULL,
                    target TEXT NOT NULL,
                    account_id BIGINT REFERENCES accounts (id),
                    code_hash TEXT NOT NULL,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    expires_at BIGINT NOT NULL,
                    consumed_at BIGINT,
                    created_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX verification_codes_by_target ON verification_codes (purpose, target, created_at)",
                // Consecutive failed logins per phone number as typed (registered or not), and the lock they earned.
                """
                CREATE TABLE login_throttle (
                    phone TEXT PRIMARY KEY,
                    failures INTEGER NOT NULL,
                    locked_until BIGINT,
                    updated_at BIGINT NOT NULL
                )
                """,
                // Where the line's SMS notices go when not to the line itself (the account's notification phone).
                "ALTER TABLE notification_preferences ADD COLUMN sms_phone TEXT",
            ]
        },
        Migration(version: 9, name: "voucher_guard_sources_and_key_channels") { _ in
            [
                // The sources (end users; behind a gateway, lines) whose failure a channel's breaker counted in its
                // current window: the breaker counts distinct sources, so one subscriber cannot pause a channel.
                // Written only under the lock of the channel's voucher_guard row; rows older than the window are deleted.
                """
                CREATE TABLE voucher_guard_sources (
                    channel TEXT NOT NULL,
                    source TEXT NOT NULL,
                    last_failure BIGINT NOT NULL,
                    PRIMARY KEY (channel, source)
                )
                """,
                // The voucher redemption channel a key is issued for (NULL: `api`): its callers cannot choose another.
                "ALTER TABLE api_keys ADD COLUMN channel TEXT",
                // Dual approval records who asked and who approved beyond the self-declared name: the API key, or the
                // operating-system user running the CLI. Neither may be the same for both.
                "ALTER TABLE voucher_approvals ADD COLUMN requested_key_id BIGINT",
                "ALTER TABLE voucher_approvals ADD COLUMN requested_os_user TEXT",
                "ALTER TABLE voucher_approvals ADD COLUMN decided_key_id BIGINT",
                "ALTER TABLE voucher_approvals ADD COLUMN decided_os_user TEXT",
            ]
        },
        Migration(version: 10, name: "portal_abuse_limits") { _ in
            [
                // Failed logins per (number, client address), per number across every client (client `*`) and per
                // client address across every number (phone `*`).
                // Replaces login_throttle, which was keyed by the typed text alone: a stranger's guesses locked the
                // owner out, and junk text made a fresh row per request. Its rows are transient (a day at most).
                "DROP TABLE login_throttle",
                """
                CREATE TABLE login_failures (
                    phone TEXT NOT NULL,
                    client TEXT NOT NULL,
                    failures INTEGER NOT NULL,
                    locked_until BIGINT,
                    updated_at BIGINT NOT NULL,
                    PRIMARY KEY (phone, client)
                )
                """,
                // Codes texted per client address, destination prefix and in all, per aligned window
                // (SMSCodeBudget): one row per subject, claimed with INSERT … ON CONFLICT DO UPDATE … RETURNING.
                """
                CREATE TABLE code_budget_counters (
                    subject TEXT PRIMARY KEY,
                    window_start BIGINT NOT NULL,
                    used INTEGER NOT NULL
                )
                """,
            ]
        },
        Migration(version: 11, name: "server_secrets") { _ in
            [
                // Keys the server makes for itself once per database (the outbox's code seal, unless the operator
                // configures one: CodeSeal).
                "CREATE TABLE server_secrets (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
            ]
        },
        .operationPurposes,
        Migration(version: 13, name: "guest_recharge") { _ in
            [
                // Orders paid by a guest on the public quick-recharge page (OrderPayer.guest): the row says so, and
                // holds the contact the guest gave for this order's success message until it is queued (or the
                // order ends unpaid), then the contact is cleared. Never copied to the line or an account.
                """
                CREATE TABLE guest_orders (
                    order_id TEXT PRIMARY KEY REFERENCES orders (id),
                    channel TEXT,
                    recipient TEXT,
                    language TEXT NOT NULL,
                    created_at BIGINT NOT NULL
                )
                """,
                // Quick-recharge requests per client address and per number, per aligned window
                // (GuestRechargeLimits): one row per subject, claimed with INSERT … ON CONFLICT DO UPDATE … RETURNING.
                """
                CREATE TABLE guest_limit_counters (
                    subject TEXT PRIMARY KEY,
                    window_start BIGINT NOT NULL,
                    used INTEGER NOT NULL
                )
                """,
            ]
        },
        .checkoutPayload,
        .charging,
        .cdrImport,
    ]

    /// The highest version this build knows.
    public static var latestVersion: Int { all.map(\.version).max() ?? 0 }

    /// Every version this build knows, ascending.
    public static var versions: [Int] { all.map(\.version).sorted() }
}

/// Applies pending migrations in order, each in its own transaction together with its
/// `schema_migrations` row, so a crash leaves the schema at a known version.
public struct MigrationRunner: Sendable {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    /// Versions already applied, ascending.
    public func appliedVersions() async throws -> [Int] {
        try await ensureTable()
        return try await database.read { db in
            try await db.raw("SELECT version FROM schema_migrations ORDER BY version").all().map { try $0.decode(column: "version", as: Int.self) }
        }
    }

    /// Applies every migration not yet applied; returns the versions it applied.
    @discardableResult
    public func migrate(now: Date = Date()) async throws -> [Int] {
        try await ensureTable()
        var applied: [Int] = []
        for migration in Migrations.all {
            let database = self.database
            let didApply = try await database.transaction { db -> Bool in
                // Re-checked inside the write transaction: two processes starting at once apply it once.
                let existing = try await db.raw("SELECT version FROM schema_migrations WHERE version = \(bind: migration.version)").first()
                if existing != nil { return false }
                for statement in migration.statements(database) {
                    do {
                        try await db.raw(SQLQueryString(statement)).run()
                    } catch {
                        throw DatabaseError.migrationFailed(version: migration.version, reason: String(describing: error))
                    }
                }
                try await db.raw("""
                    INSERT INTO schema_migrations (version, name, applied_at)
                    VALUES (\(bind: migration.version), \(bind: migration.name), \(bind: now.unixMicros))
                    """).run()
                return true
            }
            if didApply { applied.append(migration.version) }
        }
        return applied
    }

    private func ensureTable() async throws {
        try await database.transaction { db in
            try await db.raw("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version INTEGER PRIMARY KEY,
                    name TEXT NOT NULL,
                    applied_at BIGINT NOT NULL
                )
                """).run()
        }
    }
}

extension Date {
    /// Microseconds since 1970, how every timestamp is stored (the same BIGINT on both engines).
    var unixMicros: Int64 { Int64((timeIntervalSince1970 * 1_000_000).rounded()) }

    init(unixMicros: Int64) {
        self.init(timeIntervalSince1970: Double(unixMicros) / 1_000_000)
    }
}
