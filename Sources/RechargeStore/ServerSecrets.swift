import Crypto
import Foundation
import NIOConcurrencyHelpers
import SQLKit

/// Random keys the server makes for itself once per database and keeps in `server_secrets` (as ``CodeSealSource``
/// does for the code seal): every node of one database reads the same key, and a key survives restarts. Each is 32
/// random bytes, made on first use; two nodes making one at once both insert and the first row wins.
final class ServerSecretSource: Sendable {
    private let cached = NIOLockedValueBox<[String: [UInt8]]>([:])

    func secret(_ name: String, database: Database) async throws -> [UInt8] {
        if let key = cached.withLockedValue({ $0[name] }) { return key }
        let random = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0).base64EncodedString() }
        let text = try await database.transaction { db in
            try await db.raw("INSERT INTO server_secrets (name, value) VALUES (\(bind: name), \(bind: random)) ON CONFLICT (name) DO NOTHING").run()
            guard let row = try await db.raw("SELECT value FROM server_secrets WHERE name = \(bind: name)").first() else {
                throw DatabaseError.invariantViolated("no \(name) in server_secrets")
            }
            return try row.string("value")
        }
        guard let data = Data(base64Encoded: text), data.count >= 32 else { throw DatabaseError.invariantViolated("server secret \(name) is not 32 bytes in base64") }
        let key = Array(data)
        return cached.withLockedValue { cache in
            if let current = cache[name] { return current }
            cache[name] = key
            return key
        }
    }
}
