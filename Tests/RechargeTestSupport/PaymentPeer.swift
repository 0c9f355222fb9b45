import Foundation

/// Runs `scripts/peers/payment_signer.py`, which drives the providers' own Python SDKs (stripe,
/// python-alipay-sdk, wechatpayv3 + cryptography), and hands back the JSON it prints.
///
/// The Python comes from `RECHARGE_TEST_PEERS_PYTHON`, which `eval "$(scripts/start-peers)"` exports
/// (the `.venv-peers` interpreter, where the SDKs are installed at pinned versions). Without it the peer
/// tests are skipped, and say so, so a plain `swift test` passes on a machine without the venv.
public enum PaymentPeer {
    public static let python: String? = {
        guard let value = ProcessInfo.processInfo.environment["RECHARGE_TEST_PEERS_PYTHON"], !value.isEmpty else { return nil }
        return value
    }()

    public static var isAvailable: Bool { python != nil }

    public static let script = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("scripts/peers/payment_signer.py")

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// `files` are written to a fresh directory and `@name` arguments replaced by their paths, so keys and
    /// bodies travel as exact bytes rather than through argv quoting.
    public static func run(_ arguments: [String], files: [String: Data] = [:]) throws -> [String: Any] {
        guard let python else { throw Failure(description: "RECHARGE_TEST_PEERS_PYTHON is not set") }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("payment-peer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        for (name, contents) in files {
            try contents.write(to: directory.appendingPathComponent(name))
        }
        let resolved = arguments.map { argument in
            argument.hasPrefix("@") ? directory.appendingPathComponent(String(argument.dropFirst())).path : argument
        }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script.path] + resolved
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        // Read before waiting: a full pipe would otherwise block the child forever.
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        let errors = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(description: "payment_signer.py \(arguments.joined(separator: " ")) exited \(process.terminationStatus): \(String(decoding: errors, as: UTF8.self))")
        }
        guard let object = try JSONSerialization.jsonObject(with: output) as? [String: Any] else {
            throw Failure(description: "payment_signer.py printed no JSON object: \(String(decoding: output, as: UTF8.self))")
        }
        return object
    }

    public static func bytes(_ object: [String: Any], _ key: String = "body_base64") throws -> Data {
        guard let text = object[key] as? String, let data = Data(base64Encoded: text) else {
            throw Failure(description: "no base64 \(key) in \(object)")
        }
        return data
    }

    public static func header(_ object: [String: Any], _ name: String) throws -> String {
        guard let headers = object["headers"] as? [String: String], let value = headers[name] else {
            throw Failure(description: "no header \(name) in \(object)")
        }
        return value
    }
}
