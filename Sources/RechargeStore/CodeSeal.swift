import Crypto
import Foundation
import NIOConcurrencyHelpers
import RechargeCore
import SQLKit

/// Seals one-time codes for the outbox (AES-256-GCM), so the queued message of a login or registration code is not
/// readable by whoever reads the outbox: an admin key (`/v1/outbox`), a support query, a database dump. Only the
/// delivery service opens it, right before rendering the SMS or email.
///
/// The key is `RECHARGE_CODE_SEAL_KEY` (32 bytes, base64) when the operator sets one — then a database dump alone
/// never yields a code — else a random key made once per database and kept in its `server_secrets` table (which
/// still keeps codes out of the API, the pages and anything that copies the outbox). Every node of one database
/// must use the same key.
public struct CodeSeal: Sendable {
    /// What a sealed code starts with in the stored payload.
    static let prefix = "sealed:v1:"
    /// The key's bytes (`SymmetricKey` is not `Sendable`; one is made per use).
    private let keyBytes: [UInt8]
    private var key: SymmetricKey { SymmetricKey(data: keyBytes) }

    public init(key: SymmetricKey) {
        self.keyBytes = key.withUnsafeBytes { Array($0) }
    }

    /// A seal with a new random key.
    public static func random() -> CodeSeal {
        CodeSeal(key: SymmetricKey(size: .bits256))
    }

    /// Reads `RECHARGE_CODE_SEAL_KEY`-style text: 32 bytes in base64.
    public init(base64 text: String) throws(CodeSealError) {
        guard let data = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)), data.count == 32 else {
            throw .badKey
        }
        self.keyBytes = Array(data)
    }

    public func seal(_ code: String) throws -> String {
        let box = try AES.GCM.seal(Data(code.utf8), using: key)
        guard let combined = box.combined else { throw CodeSealError.cannotOpen }
        return Self.prefix + combined.base64EncodedString()
    }

    public func open(_ sealed: String) throws(CodeSealError) -> String {
        guard sealed.hasPrefix(Self.prefix), let data = Data(base64Encoded: String(sealed.dropFirst(Self.prefix.count))) else {
            throw .notSealed
        }
        do {
            return String(decoding: try AES.GCM.open(AES.GCM.SealedBox(combined: data), using: key), as: UTF8.self)
        } catch {
            throw .cannotOpen
        }
    }

    /// `event` with its code opened, for delivery. A code that was never sealed (a row queued before codes were
    /// sealed, or by a test) is delivered as it is.
    public func opening(_ event: NotificationEvent) throws(CodeSealError) -> NotificationEvent {
        guard case .oneTimeCode(let code, let minutes) = event, code.hasPrefix(Self.prefix) else { return event }
        return .oneTimeCode(code: try open(code), validMinutes: minutes)
    }
}

public enum CodeSealError: Error, CustomStringConvertible, Equatable {
    case badKey
    case notSealed
    case cannotOpen

    public var description: String {
        switch self {
        case .badKey: "RECHARGE_CODE_SEAL_KEY must be 32 bytes in base64 (openssl rand -base64 32)"
        case .notSealed: "the queued one-time code is not sealed"
        case .cannotOpen: "the queued one-time code cannot be opened with this key (every node needs the same RECHARGE_CODE_SEAL_KEY)"
        }
    }
}

/// The seal a database's stores use: the configured key, or the database's own.
final class CodeSealSource: Sendable {
    private let cached = NIOLockedValueBox<CodeSeal?>(nil)

    func use(_ seal: CodeSeal) {
        cached.withLockedValue { $0 = seal }
    }

    func seal(_ database: Database) async throws -> CodeSeal {
        if let seal = cached.withLockedValue({ $0 }) { return seal }
        let random = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0).base64EncodedString() }
        // Two nodes starting at once both insert; the first row wins and both read it.
        let text = try await database.transaction { db in
            try await db.raw("""
                INSERT INTO server_secrets (name, value) VALUES ('code_seal_key', \(bind: random)) ON CONFLICT (name) DO NOTHING
                """).run()
            guard let row = try await db.raw("SELECT value FROM server_secrets WHERE name = 'code_seal_key'").first() else {
                throw DatabaseError.invariantViolated("no code_seal_key in server_secrets")
            }
            return try row.string("value")
        }
        let seal = try CodeSeal(base64: text)
        return cached.withLockedValue { current in
            if let current { return current }
            current = seal
            return seal
        }
    }
}
