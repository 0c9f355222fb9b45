import Foundation
import NIOConcurrencyHelpers
import RechargeCore
import SQLKit

/// What an operator API key may do. Each scope includes the ones below it: admin ⊃ write ⊃ read.
public enum APIKeyScope: String, Sendable, Codable, CaseIterable, Comparable {
    case read
    case write
    case admin

    private var rank: Int {
        switch self {
        case .read: 0
        case .write: 1
        case .admin: 2
        }
    }

    public static func < (lhs: APIKeyScope, rhs: APIKeyScope) -> Bool { lhs.rank < rhs.rank }

    public func allows(_ required: APIKeyScope) -> Bool { self >= required }
}

/// A stored API key: never the secret itself, only its SHA-256 and a public prefix to tell keys apart.
public struct APIKeyRecord: Sendable, Equatable {
    public let id: Int64
    public let name: String
    public let prefix: String
    public let scope: APIKeyScope
    /// The voucher redemption channel the key is issued for (nil: ``VoucherChannel/api``): its callers redeem on it
    /// and are counted as one gateway (see ``VoucherClientKind``).
    public let channel: VoucherChannel?
    public let createdAt: Date
    public let revokedAt: Date?

    public init(id: Int64, name: String, prefix: String, scope: APIKeyScope, channel: VoucherChannel? = nil, createdAt: Date, revokedAt: Date?) {
        self.id = id
        self.name = name
        self.prefix = prefix
        self.scope = scope
        self.channel = channel
        self.createdAt = createdAt
        self.revokedAt = revokedAt
    }

    /// The channel its voucher redemptions are counted on.
    public var voucherChannel: VoucherChannel { channel ?? .api }
}

/// Operator API keys: `rk_<prefix>_<secret>`, 192 random bits in all. Because the secret is random and
/// long, a single SHA-256 is enough to store it (no slow password hash is needed, unlike passwords), and a
/// verified key is cached for one second so revocation takes effect within a second.
public final class APIKeyStore: Sendable {
    let database: Database
    private let cache = NIOLockedValueBox<[String: (record: APIKeyRecord?, expires: ContinuousClock.Instant)]>([:])
    private let cacheLifetime: Duration

    public init(database: Database, cacheLifetime: Duration = .seconds(1)) {
        self.database = database
        self.cacheLifetime = cacheLifetime
    }

    /// Creates a key; the returned secret is shown once and cannot be recovered.
    public func create(name: String, scope: APIKeyScope, channel: VoucherChannel? = nil, now: Date) async throws -> (record: APIKeyRecord, secret: String) {
        guard !name.isEmpty, name.count <= 100 else { throw RechargeError.invalidRequest("API key name must be 1 to 100 characters.") }
        if let channel, !VoucherChannel.forKeys.contains(channel) {
            throw RechargeError.invalidRequest("No API key is issued for the '\(channel.rawValue)' channel; one of: \(VoucherChannel.forKeys.map(\.rawValue).joined(separator: ", ")).")
        }
        let prefix = Self.randomBase62(count: 8)
        let secret = "rk_\(prefix)_\(Self.randomBase62(count: 24))"
        let hash = sha256Hex(secret)
        let id = try await database.transaction { db in
            guard let row = try await db.raw("""
                INSERT INTO api_keys (name, prefix, secret_hash, scope, channel, created_at)
                VALUES (\(bind: name), \(bind: prefix), \(bind: hash), \(bind: scope.rawValue), \(bind: channel?.rawValue), \(bind: now.unixMicros))
                RETURNING id
                """).first()
            else { throw DatabaseError.invariantViolated("INSERT … RETURNING gave no row") }
            return try row.int64("id")
        }
        return (APIKeyRecord(id: id, name: name, prefix: prefix, scope: scope, channel: channel, createdAt: Date(unixMicros: now.unixMicros), revokedAt: nil), secret)
    }

    public func list() async throws -> [APIKeyRecord] {
        try await database.read { db in
            try await db.raw("SELECT id, name, prefix, scope, channel, created_at, revoked_at FROM api_keys ORDER BY id").all().map(Self.decode)
        }
    }

    /// Whether any key that is not revoked exists (first run prints one when none does).
    public func hasActiveAdminKey() async throws -> Bool {
        try await database.read { db in
            try await db.raw("SELECT id FROM api_keys WHERE revoked_at IS NULL AND scope = 'admin' LIMIT 1").first() != nil
        }
    }

    /// Revokes a key by id or prefix. Returns the revoked key, or nil if no such key exists.
    public func revoke(_ idOrPrefix: String, now: Date) async throws -> APIKeyRecord? {
        let id = Int64(idOrPrefix) ?? -1
        return try await database.transaction { db in
            try await db.raw("""
                UPDATE api_keys SET revoked_at = \(bind: now.unixMicros)
                WHERE (id = \(bind: id) OR prefix = \(bind: idOrPrefix)) AND revoked_at IS NULL
                """).run()
            return try await db.raw("""
                SELECT id, name, prefix, scope, channel, created_at, revoked_at FROM api_keys WHERE id = \(bind: id) OR prefix = \(bind: idOrPrefix)
                """).first().map(Self.decode)
        }
    }

    /// The active key a bearer secret belongs to, or nil.
    public func verify(_ secret: String) async throws -> APIKeyRecord? {
        guard secret.hasPrefix("rk_"), secret.utf8.count < 100 else { return nil }
        let hash = sha256Hex(secret)
        let now = ContinuousClock.now
        if let cached = cache.withLockedValue({ $0[hash] }), cached.expires > now { return cached.record }
        let record = try await database.read { db in
            try await db.raw("""
                SELECT id, name, prefix, scope, channel, created_at, revoked_at FROM api_keys
                WHERE secret_hash = \(bind: hash) AND revoked_at IS NULL
                """).first().map(Self.decode)
        }
        cache.withLockedValue { cache in
            if cache.count > 10_000 { cache.removeAll() }
            cache[hash] = (record, now + cacheLifetime)
        }
        return record
    }

    static func decode(_ row: any SQLRow) throws -> APIKeyRecord {
        APIKeyRecord(
            id: try row.int64("id"), name: try row.string("name"), prefix: try row.string("prefix"),
            scope: APIKeyScope(rawValue: try row.string("scope")) ?? .read,
            channel: try row.optional("channel", as: String.self).flatMap(VoucherChannel.init(rawValue:)), createdAt: try row.date("created_at"),
            revokedAt: try row.optional("revoked_at", as: Int64.self).map(Date.init(unixMicros:)))
    }


    private static let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")

    /// Uniform base62 from the system CSPRNG (rejection-free: `randomElement` draws uniformly).
    static func randomBase62(count: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return String((0..<count).map { _ in alphabet.randomElement(using: &generator)! })
    }
}
