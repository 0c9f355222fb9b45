import Foundation

/// The real peers started by scripts/start-peers, found through the variables it exports.
enum PeerEnvironment {
    static let variables = ProcessInfo.processInfo.environment

    static var smtp: (host: String, port: Int)? { endpoint("RECHARGE_TEST_SMTP") }
    static var smpp: (host: String, port: Int)? { endpoint("RECHARGE_TEST_SMPP") }
    static var smtpDirectory: String? { variables["RECHARGE_TEST_SMTP_DIR"] }
    static var smtpCA: String? { variables["RECHARGE_TEST_SMTP_CA"] }
    static var smppLog: String? { variables["RECHARGE_TEST_SMPP_LOG"] }
    static var python: String? { variables["RECHARGE_TEST_PEERS_PYTHON"] }

    static var smtpConfigured: Bool { smtp != nil && smtpDirectory != nil && python != nil }
    static var smppConfigured: Bool { smpp != nil && smppLog != nil && python != nil }

    /// The repository root, for the peer scripts.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func endpoint(_ name: String) -> (host: String, port: Int)? {
        guard let value = variables[name], let colon = value.lastIndex(of: ":"),
            let port = Int(value[value.index(after: colon)...])
        else { return nil }
        return (String(value[..<colon]), port)
    }

    /// Runs a command to completion and returns its standard output.
    static func run(_ executable: String, _ arguments: [String]) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return output
    }

    static func freePort() throws -> Int {
        let output = try run(
            python!,
            ["-c", "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"])
        return Int(String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))!
    }

    static func unique() -> String {
        String(UUID().uuidString.prefix(8)).lowercased()
    }
}

/// Polls until the condition holds or the deadline passes; peers write their records asynchronously.
func eventually<T>(timeout: Duration = .seconds(10), _ probe: () async throws -> T?) async throws -> T? {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if let value = try await probe() { return value }
        try await Task.sleep(for: .milliseconds(50))
    }
    return try await probe()
}
