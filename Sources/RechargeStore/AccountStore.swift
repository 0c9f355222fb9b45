import Crypto
import Foundation
import RechargeCore
import SQLKit

/// A logged-in portal session. `token` goes into the session cookie and `csrfToken` into every form; only the
/// SHA-256 of `token` is stored. `expiresAt` is the absolute end (``AccountStore/sessionLifetime``); the session
/// ends sooner when idle for longer than ``AccountStore/sessionIdleTimeout``.
public struct PortalSession: Sendable, Equatable {
    public let token: String
    public let csrfToken: String
    public let accountID: Int64
    public let expiresAt: Date

    public init(token: String, csrfToken: String, accountID: Int64, expiresAt: Date) {
        self.token = token
        self.csrfToken = csrfToken
        self.accountID = accountID
        self.expiresAt = expiresAt
    }
}

/// A one-time code just issued. The code is returned so a development server can log it; it is stored only as a
/// hash (and in the outbox event that delivers it).
public struct IssuedCode: Sendable {
    public let code: String
    public let expiresAt: Date
}

/// Subscriber portal accounts: registration and password reset by one-time code, the lines an account proved
/// it owns, the contacts and language its lines' notices use, login throttling and sessions.
///
/// One-time codes are single use under races: the consuming transaction selects the newest live code of the
/// purpose and target (`FOR UPDATE` on PostgreSQL) and marks it consumed with a conditional
/// `UPDATE … WHERE consumed_at IS NULL`, proceeding only when that changed the row. A wrong code still counts:
/// the consuming transaction then commits the attempt (and nothing else) before the error is thrown.
public struct AccountStore: Sendable {
    public static let codeLifetime: TimeInterval = 600
    public static let maxCodeAttempts = 5
    /// Codes to one target and purpose within ``codeWindow``.
    public static let maxCodesPerWindow = 5
    public static let codeWindow: TimeInterval = 3600
    public static let sessionIdleTimeout: TimeInterval = 1800
    public static let sessionLifetime: TimeInterval = 43_200
    /// `last_seen_at` is written at most this often per session.
    static let lastSeenResolution: TimeInterval = 60

    public let database: Database

    public init(database: Database) {
        self.database = database
    }

    // MARK: One-time codes

    /// Issues a 6-digit code for `purpose` to `target` (an E.164 number gets it by SMS, anything else by email),
    /// superseding earlier unused codes of the same purpose and target, and queues its message in the same
    /// transaction. Throws ``AccountError/tooManyCodes(retryAfterSeconds:)`` when five were issued to the target
    /// for the purpose within the last hour.
    ///
    /// Each of `budget` (``SMSCodeBudget/claims(client:prefix:now:)``) is claimed in the same transaction, in
    /// order, with one atomic upsert; the first that goes over its limit throws
    /// ``AccountError/codeBudgetSpent(_:)`` and the transaction rolls back, so only codes actually queued count.
    public func issueCode(purpose: VerificationPurpose, target: String, accountID: Int64?, language: NotificationLanguage,
                          budget: [SMSCodeBudget.Claim] = [], now: Date) async throws -> IssuedCode {
        let phone = try? MSISDN(target)
        let key = Self.codeTarget(target)
        let code = Self.randomCode()
        let expiresAt = now.addingTimeInterval(Self.codeLifetime)
        let dialect = database.dialect
        // The outbox keeps the code sealed: only the delivery service opens it (CodeSeal).
        let sealedCode = try await database.codeSeal().seal(code)
        try await database.transaction { db in
            if dialect == .postgres {
                // Two requests for one target count each other's codes: a transaction-scoped lock per (purpose, target).
                try await db.raw("SELECT pg_advisory_xact_lock(\(bind: Self.lockKey("code|\(purpose.rawValue)|\(key)")))").run()
            }
            if let accountID, try await db.raw("SELECT id FROM accounts WHERE id = \(bind: accountID)").first() == nil {
                throw AccountError.accountNotFound
            }
            let recent = try await db.raw("""
                SELECT created_at FROM verification_codes
                WHERE purpose = \(bind: purpose.rawValue) AND target = \(bind: key) AND created_at > \(bind: now.addingTimeInterval(-Self.codeWindow).unixMicros)
                ORDER BY created_at DESC LIMIT \(bind: Self.maxCodesPerWindow)
                """).all()
            if recent.count >= Self.maxCodesPerWindow, let oldest = recent.last {
                let free = try oldest.date("created_at").addingTimeInterval(Self.codeWindow)
                throw AccountError.tooManyCodes(retryAfterSeconds: max(1, Int(free.timeIntervalSince(now).rounded(.up))))
            }
            for claim in budget {
                let used = try await Self.claim(claim, in: db)
                guard SMSCodeBudget.allows(claim, used: used) else { throw AccountError.codeBudgetSpent(claim.scope) }
            }
            try await db.raw("""
                UPDATE verification_codes SET consumed_at = \(bind: now.unixMicros)
                WHERE purpose = \(bind: purpose.rawValue) AND target = \(bind: key) AND consumed_at IS NULL
                """).run()
            guard let row = try await db.raw("""
                INSERT INTO verification_codes (purpose, target, account_id, code_hash, attempts, expires_at, created_at)
                VALUES (\(bind: purpose.rawValue), \(bind: key), \(bind: accountID), \(bind: Self.codeHash(purpose, key, code)), 0,
                        \(bind: expiresAt.unixMicros), \(bind: now.unixMicros))
                RETURNING id
                """).first() else { throw DatabaseError.invariantViolated("no id for a verification code") }
            let id = try row.int64("id")
            let notice = try OutgoingNotification(
                eventKey: "code:\(id)", channel: phone == nil ? .email : .sms, recipient: phone?.e164 ?? target, language: language,
                event: .oneTimeCode(code: sealedCode, validMinutes: Int(Self.codeLifetime / 60)))
            try await OutboxStore.enqueue([notice], now: now, in: db)
        }
        return IssuedCode(code: code, expiresAt: expiresAt)
    }

    /// Takes one from a budget counter and returns how many its window has used, this one included. One statement
    /// on both engines: the row is created, or moved to the new window, or counted up, under the row's lock.
    static func claim(_ claim: SMSCodeBudget.Claim, in db: any SQLDatabase) async throws -> Int {
        guard let row = try await db.raw("""
            INSERT INTO code_budget_counters (subject, window_start, used) VALUES (\(bind: claim.subject), \(bind: claim.windowStart.unixMicros), 1)
            ON CONFLICT (subject) DO UPDATE SET
                used = CASE WHEN code_budget_counters.window_start = excluded.window_start THEN code_budget_counters.used + 1 ELSE 1 END,
                window_start = excluded.window_start
            RETURNING used
            """).first() else { throw DatabaseError.invariantViolated("no code_budget_counters row") }
        return try row.decode(column: "used", as: Int.self)
    }

    /// How many codes the window of `subject` starting at `windowStart` has queued (0 when another window is current).
    public func budgetUsed(subject: String, windowStart: Date) async throws -> Int {
        try await database.read { db in
            try await db.raw("""
                SELECT used FROM code_budget_counters WHERE subject = \(bind: subject) AND window_start = \(bind: windowStart.unixMicros)
                """).first().map { try $0.decode(column: "used", as: Int.self) } ?? 0
        }
    }

    /// Whether `number` is a line this operator serves under `rule` (``SMSDestinationRule``): a line in the database,
    /// a number in a configured prefix, or, with none configured, a number in the default range of some line. The
    /// range is read through the unique index on `lines.msisdn` (`msisdn BETWEEN prefix AND prefix999…`).
    public func serves(_ number: MSISDN, rule: SMSDestinationRule) async throws -> Bool {
        if rule.configuredPrefix(of: number) != nil { return true }
        let range = rule.prefixes == nil ? SMSDestinationRule.defaultRange(of: number) : number.e164
        return try await database.read { db in
            try await db.raw("""
                SELECT msisdn FROM lines WHERE msisdn >= \(bind: range) AND msisdn <= \(bind: range + String(repeating: "9", count: 15)) LIMIT 1
                """).first() != nil
        }
    }

    /// Whether `code` is the live code of `purpose` for `target` (and `accountID` when given), without using it up;
    /// a wrong code counts as an attempt. What a page checks before it pays for bcrypt: the transaction that then
    /// consumes the code checks it again, so two requests racing with one code still get one use.
    public func checkCode(_ purpose: VerificationPurpose, target: String, accountID: Int64?, code: String, now: Date) async throws -> Bool {
        let forUpdate = database.forUpdate
        return try await database.transaction { db in
            try await Self.matchCode(purpose, target: target, accountID: accountID, code: code, now: now, forUpdate: forUpdate, in: db) != nil
        }
    }

    /// What a consuming transaction decided: done, or the code was refused (any wrong attempt is then committed
    /// with the transaction, and the caller throws ``AccountError/codeInvalid``).
    enum Checked<T: Sendable>: Sendable {
        case done(T)
        case refused

        func get() throws -> T {
            switch self {
            case .done(let value): return value
            case .refused: throw AccountError.codeInvalid
            }
        }
    }

    /// Inside a write transaction: consumes the live code of `purpose` for `target` (and `accountID` when given)
    /// if `code` is it, and returns its id. Nil when there is no live code, it is used up, or `code` is wrong (then
    /// its attempt is counted); the transaction must then write nothing else and commit.
    @discardableResult
    static func consumeCode(_ purpose: VerificationPurpose, target: String, accountID: Int64?, code: String, now: Date,
                            forUpdate: String, in db: any SQLDatabase) async throws -> Int64? {
        guard let id = try await matchCode(purpose, target: target, accountID: accountID, code: code, now: now, forUpdate: forUpdate, in: db) else {
            return nil
        }
        return try await db.raw("""
            UPDATE verification_codes SET consumed_at = \(bind: now.unixMicros) WHERE id = \(bind: id) AND consumed_at IS NULL RETURNING id
            """).first() != nil ? id : nil
    }

    /// The id of the live code of `purpose` for `target` if `code` is it; nil otherwise (a wrong code's attempt is
    /// counted). Uses nothing up.
    static func matchCode(_ purpose: VerificationPurpose, target: String, accountID: Int64?, code: String, now: Date,
                          forUpdate: String, in db: any SQLDatabase) async throws -> Int64? {
        let key = codeTarget(target)
        var query: SQLQueryString = """
            SELECT id, code_hash, attempts FROM verification_codes
            WHERE purpose = \(bind: purpose.rawValue) AND target = \(bind: key) AND consumed_at IS NULL AND expires_at > \(bind: now.unixMicros)
            """
        if let accountID { query += " AND account_id = \(bind: accountID)" }
        query += " ORDER BY id DESC LIMIT 1\(unsafeRaw: forUpdate)"
        guard let row = try await db.raw(query).first() else { return nil }
        let id = try row.int64("id")
        guard try row.decode(column: "attempts", as: Int.self) < maxCodeAttempts else { return nil }
        guard ConstantTime.equal(try row.string("code_hash").utf8, codeHash(purpose, key, code).utf8) else {
            try await db.raw("UPDATE verification_codes SET attempts = attempts + 1 WHERE id = \(bind: id)").run()
            return nil
        }
        return id
    }

    /// Numbers are keyed in E.164, addresses in lower case, so a code finds its target however it was typed.
    static func codeTarget(_ target: String) -> String {
        if let phone = try? MSISDN(target) { return phone.e164 }
        return target.trimmingCharacters(in: .whitespaces).lowercased()
    }

    static func codeHash(_ purpose: VerificationPurpose, _ target: String, _ code: String) -> String {
        sha256Hex("\(purpose.rawValue)|\(target)|\(code)")
    }

    static func randomCode() -> String {
        var generator = SystemRandomNumberGenerator()
        let value = UInt32.random(in: 0..<1_000_000, using: &generator)
        let digits = String(value)
        return String(repeating: "0", count: 6 - digits.count) + digits
    }

    /// 32 bytes from the system CSPRNG (four 64-bit draws), base64url without padding: 43 characters. Session
    /// and CSRF tokens here, and the portal's anonymous CSRF tokens (made on every first page view: kept cheap).
    public static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes: [UInt8] = []
        bytes.reserveCapacity(33)
        for _ in 0..<4 {
            let word = generator.next()
            for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: word >> UInt64(shift))) }
        }
        bytes.append(0)   // pads the last group of three; its characters are dropped
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(44)
        for index in stride(from: 0, to: 33, by: 3) {
            let group = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            for shift in [18, 12, 6, 0] { text.append(alphabet[Int(group >> UInt32(shift) & 63)]) }
        }
        return String(decoding: text.prefix(43), as: UTF8.self)
    }

    /// A PostgreSQL advisory lock key for a text: the first 8 bytes of its SHA-256.
    static func lockKey(_ text: String) -> Int64 {
        SHA256.hash(data: Array(text.utf8)).prefix(8).reduce(Int64(0)) { ($0 << 8) | Int64($1) }
    }

    // MARK: Accounts

    static let accountColumns = "id, phone, email, notify_phone, language, created_at"

    static func decodeAccount(_ row: any SQLRow) throws -> Account {
        Account(
            id: try row.int64("id"), phone: try MSISDN(try row.string("phone")), email: try row.optional("email", as: String.self),
            notifyPhone: try row.optional("notify_phone", as: String.self).map { text throws(RechargeError) in try MSISDN(text) },
            language: NotificationLanguage(tag: try row.string("language")), createdAt: try row.date("created_at"))
    }

    static func loadAccount(_ id: Int64, lock: String = "", in db: any SQLDatabase) async throws -> Account? {
        try await db.raw("SELECT \(unsafeRaw: accountColumns) FROM accounts WHERE id = \(bind: id)\(unsafeRaw: lock)").first().map(decodeAccount)
    }

    /// Consumes the register code for `phone` and creates the account; the line with that number, when it exists
    /// and is on no account, is linked to it. A number already registered is refused like a wrong code.
    public func register(phone: MSISDN, code: String, passwordHash: String, email: String?, language: NotificationLanguage, now: Date) async throws -> Account {
        if let email { try NotificationPreferences.validate(email: email) }
        let forUpdate = database.forUpdate
        let database = self.database
        let checked = try await database.transaction { db -> Checked<Account> in
            guard try await Self.consumeCode(.register, target: phone.e164, accountID: nil, code: code, now: now, forUpdate: forUpdate, in: db) != nil else {
                return .refused
            }
            guard try await db.raw("SELECT id FROM accounts WHERE phone = \(bind: phone.e164)").first() == nil else { throw AccountError.codeInvalid }
            let row: (any SQLRow)?
            do {
                row = try await db.raw("""
                    INSERT INTO accounts (phone, password_hash, email, notify_phone, language, created_at, updated_at)
                    VALUES (\(bind: phone.e164), \(bind: passwordHash), \(bind: email), NULL, \(bind: language.rawValue), \(bind: now.unixMicros), \(bind: now.unixMicros))
                    RETURNING \(unsafeRaw: Self.accountColumns)
                    """).first()
            } catch {
                if database.isUniqueViolation(error) { throw AccountError.codeInvalid }
                throw error
            }
            guard let row else { throw DatabaseError.invariantViolated("no row for a new account") }
            let account = try Self.decodeAccount(row)
            if try await db.raw("SELECT id FROM lines WHERE msisdn = \(bind: phone.e164)\(unsafeRaw: forUpdate)").first() != nil {
                try await db.raw("""
                    INSERT INTO account_lines (msisdn, account_id, added_at) VALUES (\(bind: phone.e164), \(bind: account.id), \(bind: now.unixMicros))
                    ON CONFLICT (msisdn) DO NOTHING
                    """).run()
            }
            return .done(account)
        }
        return try checked.get()
    }

    public func credentials(phone: MSISDN) async throws -> (account: Account, passwordHash: String)? {
        try await database.read { db in
            guard let row = try await db.raw("""
                SELECT \(unsafeRaw: Self.accountColumns), password_hash FROM accounts WHERE phone = \(bind: phone.e164)
                """).first() else { return nil }
            return (try Self.decodeAccount(row), try row.string("password_hash"))
        }
    }

    public func account(id: Int64) async throws -> Account? {
        try await database.read { db in try await Self.loadAccount(id, in: db) }
    }

    /// Consumes a password-reset code for `phone`, sets the new hash, ends every session of the account and
    /// clears the lock on the number: its count across every client and the count of `client`, the address the
    /// code came back from (a stranger's own count stays, so a reset does not hand them fresh guesses). This is
    /// how an owner locked out by guesses from many addresses gets in. No code, a wrong one, or a number not
    /// registered: ``AccountError/codeInvalid``.
    public func resetPassword(phone: MSISDN, code: String, passwordHash: String, client: String, now: Date) async throws {
        let forUpdate = database.forUpdate
        let checked = try await database.transaction { db -> Checked<Void> in
            guard try await Self.consumeCode(.passwordReset, target: phone.e164, accountID: nil, code: code, now: now, forUpdate: forUpdate, in: db) != nil else {
                return .refused
            }
            guard let row = try await db.raw("""
                UPDATE accounts SET password_hash = \(bind: passwordHash), updated_at = \(bind: now.unixMicros) WHERE phone = \(bind: phone.e164) RETURNING id
                """).first() else { throw AccountError.codeInvalid }
            try await db.raw("DELETE FROM account_sessions WHERE account_id = \(bind: try row.int64("id"))").run()
            try await db.raw("""
                DELETE FROM login_failures WHERE phone = \(bind: phone.e164) AND client IN (\(bind: client), \(bind: LoginLockout.everyClient))
                """).run()
            return .done(())
        }
        try checked.get()
    }

    /// Sets the hash and ends every other session of the account (the one of `token` stays).
    public func changePassword(accountID: Int64, passwordHash: String, keepingSession token: String, now: Date) async throws {
        try await database.transaction { db in
            guard try await db.raw("""
                UPDATE accounts SET password_hash = \(bind: passwordHash), updated_at = \(bind: now.unixMicros) WHERE id = \(bind: accountID) RETURNING id
                """).first() != nil else { throw AccountError.accountNotFound }
            try await db.raw("""
                DELETE FROM account_sessions WHERE account_id = \(bind: accountID) AND token_hash <> \(bind: sha256Hex(token))
                """).run()
        }
    }

    // MARK: Login throttle

    /// When the lock on logins to `phone` from `client` ends — its own lock, the number's or the address's,
    /// whichever ends last; nil when none is locked. `phone` is always a normalised number: junk text never
    /// reaches the table.
    public func loginLockedUntil(phone: MSISDN, client: String, now: Date) async throws -> Date? {
        try await database.read { db in
            try await db.raw("""
                SELECT locked_until FROM login_failures
                WHERE ((phone = \(bind: phone.e164) AND client IN (\(bind: client), \(bind: LoginLockout.everyClient)))
                       OR (phone = \(bind: LoginLockout.everyNumber) AND client = \(bind: client)))
                  AND locked_until > \(bind: now.unixMicros)
                """).all().map { try $0.date("locked_until") }.max()
        }
    }

    /// Counts a failed login from `client` before the password is checked — for (number, client), for the number
    /// across every client and for the client across every number; returns when the lock this failure earned ends
    /// (``LoginLockout``; the latest when several), nil when none. Each count is claimed with one atomic upsert, in
    /// this order, so parallel guesses each get their own number.
    public func recordLoginFailure(phone: MSISDN, client: String, policy: LoginLockout = LoginLockout(), now: Date) async throws -> Date? {
        try await database.transaction { db in
            var until: Date?
            let counts = [(phone.e164, client, policy.perClient), (phone.e164, LoginLockout.everyClient, policy.perNumber),
                          (LoginLockout.everyNumber, client, policy.perAddress)]
            for (number, key, rule) in counts {
                guard let row = try await db.raw("""
                    INSERT INTO login_failures (phone, client, failures, locked_until, updated_at)
                    VALUES (\(bind: number), \(bind: key), 1, NULL, \(bind: now.unixMicros))
                    ON CONFLICT (phone, client) DO UPDATE SET failures = login_failures.failures + 1, updated_at = excluded.updated_at
                    RETURNING failures
                    """).first() else { throw DatabaseError.invariantViolated("no login_failures row") }
                guard let lock = rule.lock(afterFailures: try row.decode(column: "failures", as: Int.self)) else { continue }
                let end = now.addingTimeInterval(lock)
                try await db.raw("""
                    UPDATE login_failures SET locked_until = \(bind: end.unixMicros) WHERE phone = \(bind: number) AND client = \(bind: key)
                    """).run()
                until = max(until ?? end, end)
            }
            return until
        }
    }

    /// A successful login from `client`: its count for the number starts again, and the number's and the address's
    /// counts give back the one this attempt took before its password was checked. The rest of those stays (it
    /// fades when a day passes without failures, or with a reset code), or every owner login would hand a
    /// distributed guesser a fresh allowance.
    public func recordLoginSuccess(phone: MSISDN, client: String) async throws {
        try await database.transaction { db in
            try await db.raw("DELETE FROM login_failures WHERE phone = \(bind: phone.e164) AND client = \(bind: client)").run()
            for (number, key) in [(phone.e164, LoginLockout.everyClient), (LoginLockout.everyNumber, client)] {
                try await db.raw("""
                    UPDATE login_failures SET failures = failures - 1 WHERE phone = \(bind: number) AND client = \(bind: key) AND failures > 0
                    """).run()
                try await db.raw("DELETE FROM login_failures WHERE phone = \(bind: number) AND client = \(bind: key) AND failures <= 0").run()
            }
        }
    }
}
