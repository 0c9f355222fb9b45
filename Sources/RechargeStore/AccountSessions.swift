import Foundation
import RechargeCore
import SQLKit

/// Portal sessions: a random token in the cookie, its SHA-256 in `account_sessions`. A session ends when idle for
/// longer than ``AccountStore/sessionIdleTimeout`` (sliding) or ``AccountStore/sessionLifetime`` after it began.
extension AccountStore {
    /// A new session for the account. A login renews the session: the caller passes the token it had before
    /// (nil: none), whose session is deleted.
    public func createSession(accountID: Int64, replacing previousToken: String?, now: Date) async throws -> PortalSession {
        let session = PortalSession(
            token: Self.randomToken(), csrfToken: Self.randomToken(), accountID: accountID, expiresAt: now.addingTimeInterval(Self.sessionLifetime))
        try await database.transaction { db in
            if let previousToken {
                try await db.raw("DELETE FROM account_sessions WHERE token_hash = \(bind: sha256Hex(previousToken))").run()
            }
            guard try await db.raw("SELECT id FROM accounts WHERE id = \(bind: accountID)").first() != nil else { throw AccountError.accountNotFound }
            try await db.raw("""
                INSERT INTO account_sessions (token_hash, account_id, csrf_token, created_at, last_seen_at, expires_at)
                VALUES (\(bind: sha256Hex(session.token)), \(bind: accountID), \(bind: session.csrfToken), \(bind: now.unixMicros),
                        \(bind: now.unixMicros), \(bind: session.expiresAt.unixMicros))
                """).run()
        }
        return session
    }

    /// The session of `token` and its account, when the token is known and the session has neither been idle
    /// too long nor outlived its lifetime; nil otherwise. Marks the session seen (at most once a minute).
    public func session(token: String, now: Date) async throws -> (session: PortalSession, account: Account)? {
        let hash = sha256Hex(token)
        let found = try await database.read { db -> (PortalSession, Account, lastSeen: Date)? in
            guard let row = try await db.raw("""
                SELECT s.csrf_token, s.last_seen_at, s.expires_at, a.id, a.phone, a.email, a.notify_phone, a.language, a.created_at
                FROM account_sessions s JOIN accounts a ON a.id = s.account_id
                WHERE s.token_hash = \(bind: hash)
                """).first() else { return nil }
            let account = try Self.decodeAccount(row)
            let session = PortalSession(token: token, csrfToken: try row.string("csrf_token"), accountID: account.id, expiresAt: try row.date("expires_at"))
            return (session, account, try row.date("last_seen_at"))
        }
        guard let found else { return nil }
        let (session, account, lastSeen) = found
        guard now < session.expiresAt, now.timeIntervalSince(lastSeen) <= Self.sessionIdleTimeout else {
            try await endSession(token: token)
            return nil
        }
        if now.timeIntervalSince(lastSeen) >= Self.lastSeenResolution {
            // Conditional: of concurrent requests one writes; none moves last_seen_at back.
            try await database.transaction { db in
                try await db.raw("""
                    UPDATE account_sessions SET last_seen_at = \(bind: now.unixMicros)
                    WHERE token_hash = \(bind: hash) AND last_seen_at < \(bind: now.unixMicros)
                    """).run()
            }
        }
        return (session, account)
    }

    public func endSession(token: String) async throws {
        try await database.transaction { db in
            try await db.raw("DELETE FROM account_sessions WHERE token_hash = \(bind: sha256Hex(token))").run()
        }
    }
}

extension AccountStore {
    /// What a sweep deleted.
    public struct Sweep: Sendable, Equatable {
        public let sessions: Int
        public let codes: Int
        public let loginCounts: Int
        /// Guests' contacts forgotten: of orders that ended unpaid ``guestContactRetention`` ago.
        public let guestContacts: Int

        public init(sessions: Int, codes: Int, loginCounts: Int, guestContacts: Int = 0) {
            self.sessions = sessions
            self.codes = codes
            self.loginCounts = loginCounts
            self.guestContacts = guestContacts
        }
    }

    /// How long the contact a guest gave stays on an order that ended unpaid (expired, cancelled, failed): long
    /// enough for a late payment to still fulfil it and tell the guest (the wallets close their trades at the
    /// order's expiry; a card or bank payment can arrive days later), then it is cleared like a paid order's.
    public static let guestContactRetention: TimeInterval = 30 * 86_400

    /// Deletes what can no longer be used, so the tables do not grow with every visitor: sessions past their
    /// lifetime or idle timeout; codes a day past their expiry (long after the hourly limit stopped counting
    /// them); the failed-login counts of numbers neither locked nor tried for a day (a count older than that
    /// starts again); the contacts guests gave for orders that ended unpaid 30 days ago. Run by the lease holder's
    /// reminder round.
    public func sweep(now: Date) async throws -> Sweep {
        try await database.transaction { db in
            let sessions = try await db.raw("""
                DELETE FROM account_sessions
                WHERE expires_at <= \(bind: now.unixMicros) OR last_seen_at < \(bind: now.addingTimeInterval(-Self.sessionIdleTimeout).unixMicros)
                RETURNING account_id
                """).all().count
            let codes = try await db.raw("""
                DELETE FROM verification_codes WHERE expires_at < \(bind: now.addingTimeInterval(-86_400).unixMicros) RETURNING id
                """).all().count
            let counts = try await db.raw("""
                DELETE FROM login_failures
                WHERE updated_at < \(bind: now.addingTimeInterval(-86_400).unixMicros)
                  AND (locked_until IS NULL OR locked_until <= \(bind: now.unixMicros))
                RETURNING phone
                """).all().count
            // Budget counters of windows that ended a day ago: a current window's row is never older than that.
            try await db.raw("""
                DELETE FROM code_budget_counters WHERE window_start < \(bind: now.addingTimeInterval(-86_400).unixMicros)
                """).run()
            // The quick-recharge page's counters (GuestRechargeLimits), likewise.
            try await db.raw("""
                DELETE FROM guest_limit_counters WHERE window_start < \(bind: now.addingTimeInterval(-86_400).unixMicros)
                """).run()
            // A guest's contact is used for one order's message only: cleared when it is queued, or here for an order
            // that ended unpaid (the row stays, saying the order was a guest's).
            let contacts = try await db.raw("""
                UPDATE guest_orders SET channel = NULL, recipient = NULL
                WHERE recipient IS NOT NULL AND order_id IN (
                    SELECT id FROM orders WHERE state IN ('expired', 'cancelled', 'failed')
                      AND updated_at < \(bind: now.addingTimeInterval(-Self.guestContactRetention).unixMicros))
                RETURNING order_id
                """).all().count
            return Sweep(sessions: sessions, codes: codes, loginCounts: counts, guestContacts: contacts)
        }
    }
}
