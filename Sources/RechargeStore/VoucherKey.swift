import Crypto
import Foundation
import RechargeCore

/// The secret that turns a voucher PIN into what the database keeps: `HMAC-SHA256(key, PIN)`, hex. Without the
/// key a stolen database reveals no PIN (a 16-digit PIN space is small enough to enumerate against a plain hash,
/// not against a keyed one). Each voucher row records the ``id`` of the key that hashed it.
///
/// Until a batch is exported its PINs are also kept sealed (AES-GCM) under a key derived from this one, for the
/// one export to the card printer; the export deletes them.
public struct VoucherKey: Sendable {
    public let id: String
    // Bytes, not SymmetricKey (which is not Sendable): keys are made where they are used.
    private let secret: [UInt8]
    private let sealingSecret: [UInt8]

    /// Keys shorter than 32 bytes are refused.
    public init(id: String, secret: some ContiguousBytes) throws {
        let bytes = secret.withUnsafeBytes { Array($0) }
        guard bytes.count >= 32 else { throw VoucherKeyError.invalid("the voucher key must be at least 32 bytes (64 hex digits)") }
        guard !id.isEmpty, id.utf8.count <= 32, id.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2D || $0 == 0x5F }) else {
            throw VoucherKeyError.invalid("the voucher key id must be 1 to 32 letters, digits, '-' or '_'")
        }
        self.id = id
        self.secret = bytes
        self.sealingSecret = HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: bytes), info: Data("recharge voucher export sealing".utf8), outputByteCount: 32)
            .withUnsafeBytes { Array($0) }
    }

    /// `HMAC-SHA256(key, digits)` as 64 lowercase hex digits.
    public func hmacHex(_ pin: VoucherPIN) -> String { hasher().hex(digits: pin.digits) }

    /// Hashes many PINs with one key object.
    func hasher() -> PINHasher { PINHasher(key: SymmetricKey(data: secret)) }

    var sealingKey: SymmetricKey { SymmetricKey(data: sealingSecret) }

    struct PINHasher {
        let key: SymmetricKey

        func hex(digits: String) -> String {
            var digits = digits
            return digits.withUTF8 { buffer in
                let code = HMAC<SHA256>.authenticationCode(for: UnsafeRawBufferPointer(buffer), using: key)
                return code.withUnsafeBytes { VoucherKey.hex($0) }
            }
        }

        /// Writes the 64 hex digits of the PIN's HMAC into `output` at `offset`.
        func write(digits: UnsafeRawBufferPointer, into output: inout [UInt8], at offset: Int) {
            let code = HMAC<SHA256>.authenticationCode(for: digits, using: key)
            code.withUnsafeBytes { bytes in
                for (index, byte) in bytes.enumerated() {
                    output[offset + index * 2] = VoucherKey.hexDigits[Int(byte >> 4)]
                    output[offset + index * 2 + 1] = VoucherKey.hexDigits[Int(byte & 0x0F)]
                }
            }
        }
    }

    static let hexDigits = Array("0123456789abcdef".utf8)

    static func hex(_ bytes: UnsafeRawBufferPointer) -> String {
        String(unsafeUninitializedCapacity: bytes.count * 2) { output in
            for (index, byte) in bytes.enumerated() {
                output[index * 2] = hexDigits[Int(byte >> 4)]
                output[index * 2 + 1] = hexDigits[Int(byte & 0x0F)]
            }
            return bytes.count * 2
        }
    }

    /// The key from `RECHARGE_VOUCHER_KEY` (64+ hex digits) and `RECHARGE_VOUCHER_KEY_ID` (default `k1`), or nil if unset.
    public static func fromEnvironment(_ environment: [String: String]) throws -> VoucherKey? {
        guard let text = environment["RECHARGE_VOUCHER_KEY"], !text.isEmpty else { return nil }
        guard let bytes = decodeHex(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw VoucherKeyError.invalid("RECHARGE_VOUCHER_KEY must be hex digits (generate one with: openssl rand -hex 32)")
        }
        return try VoucherKey(id: environment["RECHARGE_VOUCHER_KEY_ID"] ?? "k1", secret: bytes)
    }

    /// Keys used before a rotation, from `RECHARGE_VOUCHER_PREVIOUS_KEYS`: `id:hex` separated by commas.
    public static func previousFromEnvironment(_ environment: [String: String]) throws -> [VoucherKey] {
        guard let text = environment["RECHARGE_VOUCHER_PREVIOUS_KEYS"], !text.isEmpty else { return [] }
        return try text.split(separator: ",").map { item in
            let parts = item.trimmingCharacters(in: .whitespaces).split(separator: ":", maxSplits: 1).map(String.init)
            guard parts.count == 2, let bytes = decodeHex(parts[1]) else {
                throw VoucherKeyError.invalid("RECHARGE_VOUCHER_PREVIOUS_KEYS must be id:hex pairs separated by commas")
            }
            return try VoucherKey(id: parts[0], secret: bytes)
        }
    }

    /// The development key of an embedded (SQLite) installation: read from `path` (`<id>:<hex>`), or generated
    /// from the system's secure random source and written there readable by its owner only.
    public static func loadOrCreateDevelopmentKey(at path: String) throws -> VoucherKey {
        if let data = FileManager.default.contents(atPath: path) {
            let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
            guard parts.count == 2, let bytes = decodeHex(parts[1]) else { throw VoucherKeyError.invalid("\(path) is not '<id>:<hex>'") }
            return try VoucherKey(id: parts[0], secret: bytes)
        }
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let key = try VoucherKey(id: "dev1", secret: bytes)
        let text = "dev1:" + bytes.withUnsafeBytes { hex($0) } + "\n"
        try OwnerOnlyFile.create(at: path, contents: Data(text.utf8))
        return key
    }

    /// The configured key: the environment's, else for SQLite the development key beside the database file.
    /// PostgreSQL (several nodes, one database) needs the key configured.
    public static func configured(environment: [String: String], location: DatabaseLocation) throws -> VoucherKey {
        if let key = try fromEnvironment(environment) { return key }
        switch location {
        case .sqlite(let path):
            let folder = URL(fileURLWithPath: path).deletingLastPathComponent()
            // Private like the database beside it (Database.createPrivately).
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            return try loadOrCreateDevelopmentKey(at: folder.appendingPathComponent("voucher.key").path)
        case .postgres:
            throw VoucherKeyError.invalid("set RECHARGE_VOUCHER_KEY (64 hex digits, the same on every node) to use vouchers with PostgreSQL")
        }
    }

    static func decodeHex(_ text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        func value(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: c - 0x30
            case 0x61...0x66: c - 0x61 + 10
            case 0x41...0x46: c - 0x41 + 10
            default: nil
            }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count / 2)
        var index = 0
        while index < utf8.count {
            guard let high = value(utf8[index]), let low = value(utf8[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }
}

public enum VoucherKeyError: Error, CustomStringConvertible, Equatable {
    case invalid(String)
    public var description: String {
        switch self {
        case .invalid(let reason): reason
        }
    }
}

/// Files with secrets in them: created new (never overwriting), mode 0600 from the first byte, flushed to disk.
enum OwnerOnlyFile {
    static func create(at path: String, contents: Data) throws {
        let handle = try open(path)
        defer { try? handle.close() }
        try handle.write(contentsOf: contents)
        try handle.synchronize()
    }

    /// Opens `path` for writing with `O_CREAT | O_EXCL` and mode 0600; fails if it exists.
    static func open(_ path: String) throws -> FileHandle {
        let descriptor = Foundation.open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard descriptor >= 0 else {
            let reason = String(cString: strerror(errno))
            throw VoucherKeyError.invalid("cannot create \(path): \(reason)")
        }
        // The umask can only take bits away; make sure nobody else got any.
        fchmod(descriptor, 0o600)
        return FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
    }
}
