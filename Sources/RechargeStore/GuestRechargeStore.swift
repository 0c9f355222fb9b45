import Foundation
import RechargeCore
import SQLKit

/// What the public quick-recharge pages read and count: whether a number may be recharged by a guest
/// (``GuestRechargeEligibility``), and the per-client and per-number request counters (``GuestRechargeLimits``; old windows are deleted by
/// ``AccountStore/sweep(now:)`` with the portal's other counters).
/// Orders themselves go through ``OrderStore`` like any other, with ``OrderPayer/guest(contact:language:)``.
public struct GuestRechargeStore: Sendable {
    public let database: Database
    public let catalog: CatalogStore

    public init(database: Database, catalog: CatalogStore) {
        self.database = database
        self.catalog = catalog
    }

    /// The line's currency when a guest may recharge `number`, else nil — whatever the reason (no such line, closed,
    /// nothing sold in its currency): the caller answers every nil alike.
    public func rechargeableCurrency(_ number: MSISDN) async throws -> Currency? {
        try await database.read { db in
            let line: Line?
            do { line = try await LedgerStore.loadLine(db, number, lock: nil) } catch RechargeError.lineNotFound { line = nil }
            let catalog = try await self.catalog.current(in: db)
            return GuestRechargeEligibility.allows(line, catalog: catalog) ? line?.currency : nil
        }
    }

    /// Claims `claims` in order and returns the first one refused (its counter at its limit), or nil when every
    /// one allowed the request. Each claim is one statement on both engines — the row is created, moved to the new
    /// window, or counted up under its lock, `RETURNING` the count — so concurrent requests each get their own
    /// count and no more than the limit are ever let through. A refused claim stops there: the claims after it are
    /// not taken (a client over its limit does not make a row for each number it tries).
    public func claim(_ claims: [GuestRechargeLimits.Claim]) async throws -> GuestRechargeLimits.Claim? {
        for claim in claims {
            let used = try await database.transaction { db in
                guard let row = try await db.raw("""
                    INSERT INTO guest_limit_counters (subject, window_start, used)
                    VALUES (\(bind: claim.subject), \(bind: claim.windowStart.unixMicros), 1)
                    ON CONFLICT (subject) DO UPDATE SET
                        used = CASE WHEN guest_limit_counters.window_start = excluded.window_start THEN guest_limit_counters.used + 1 ELSE 1 END,
                        window_start = excluded.window_start
                    RETURNING used
                    """).first() else { throw DatabaseError.invariantViolated("no guest_limit_counters row") }
                return try row.decode(column: "used", as: Int.self)
            }
            if !GuestRechargeLimits.allows(claim, used: used) { return claim }
        }
        return nil
    }

    /// How many requests the window of `subject` starting at `windowStart` has counted (0 when another window is current).
    public func used(subject: String, windowStart: Date) async throws -> Int {
        try await database.read { db in
            try await db.raw("""
                SELECT used FROM guest_limit_counters WHERE subject = \(bind: subject) AND window_start = \(bind: windowStart.unixMicros)
                """).first().map { try $0.decode(column: "used", as: Int.self) } ?? 0
        }
    }
}
