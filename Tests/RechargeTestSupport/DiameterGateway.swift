import Foundation
import NIOConcurrencyHelpers

/// The python-diameter gateway started by the test, found through the variables scripts/start-peers exports.
public enum DiameterGatewayPeer {
    public static let environment = ProcessInfo.processInfo.environment
    public static var python: String? { environment["RECHARGE_TEST_PEERS_PYTHON"] }
    public static var script: String? { environment["RECHARGE_TEST_DIAMETER_GATEWAY"] }
    public static var configured: Bool { python != nil && script != nil }
}

/// A running gateway process whose JSON lines are collected as they arrive.
public final class GatewayProcess: Sendable {
    public let process: Process
    let lines = NIOLockedValueBox<(complete: [[String: String]], raw: [String], partial: String)>(([], [], ""))
    let errors = NIOLockedValueBox("")

    public init(python: String, script: String, port: Int, arguments: [String] = []) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script, "--port", String(port), "--ocs-host", "ocs.test.example", "--ocs-realm", "test.example"] + arguments
        let output = Pipe()
        let errorOutput = Pipe()
        process.standardOutput = output
        process.standardError = errorOutput
        let lines = lines
        output.fileHandleForReading.readabilityHandler = { handle in
            let text = String(decoding: handle.availableData, as: UTF8.self)
            lines.withLockedValue { state in
                state.partial += text
                while let newline = state.partial.firstIndex(of: "\n") {
                    let line = String(state.partial[..<newline])
                    state.partial = String(state.partial[state.partial.index(after: newline)...])
                    state.raw.append(line)
                    if let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] {
                        state.complete.append(object.mapValues { Self.flatten($0) })
                    }
                }
            }
        }
        let errors = errors
        errorOutput.fileHandleForReading.readabilityHandler = { handle in
            let text = String(decoding: handle.availableData, as: UTF8.self)
            errors.withLockedValue { $0 += text }
        }
        try process.run()
        self.process = process
    }

    /// JSON values as strings (nested ones as compact JSON), enough for assertions.
    static func flatten(_ value: Any) -> String {
        switch value {
        case let text as String: return text
        case is NSNull: return "null"
        case let number as NSNumber: return number.stringValue
        default:
            let data = (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys])) ?? Data()
            return String(decoding: data, as: UTF8.self)
        }
    }

    public func events(_ name: String) -> [[String: String]] { lines.withLockedValue { $0.complete.filter { $0["event"] == name } } }

    public func waitFor(_ name: String, timeout: Duration = .seconds(60)) async throws -> [String: String]? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let event = events(name).first { return event }
            try await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }

    public var transcript: String { lines.withLockedValue { $0.raw.joined(separator: "\n") } + "\nstderr:\n" + errors.withLockedValue { $0 } }
}

