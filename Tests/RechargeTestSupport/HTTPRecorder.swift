import Foundation
import RechargeTestSupport

/// Runs `scripts/peers/http_recorder.py`: a throwaway HTTP endpoint on a free loopback port that records
/// every request it receives (exact body bytes and headers) and answers with a canned response. The
/// StripeClient tests (and the Stripe Checkout order tests) use it as localstripe's webhook endpoint and as a stand-in Stripe whose received
/// requests can be read back.
///
/// Its Python is `RECHARGE_TEST_PEERS_PYTHON`, which `eval "$(scripts/start-peers)"` exports.
public final class HTTPRecorder: @unchecked Sendable {
    public struct Request: Decodable, Sendable {
        public let method: String
        public let path: String
        public let headers: [String: String]
        public let bodyBase64: String

        public var body: Data { Data(base64Encoded: bodyBase64) ?? Data() }

        public func header(_ name: String) -> String? {
            headers.first { $0.key.lowercased() == name.lowercased() }?.value
        }
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    static let script = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("scripts/peers/http_recorder.py")

    public let port: Int
    private let process: Process
    /// The recorder's stdin: closing it stops the recorder, even if this process dies first.
    private let lifeline: Pipe
    private let directory: URL
    private var log: URL { directory.appendingPathComponent("requests.jsonl") }

    public var url: String { "http://127.0.0.1:\(port)" }

    private init(port: Int, process: Process, lifeline: Pipe, directory: URL) {
        self.port = port
        self.process = process
        self.lifeline = lifeline
        self.directory = directory
    }

    /// Starts a recorder and waits (without blocking a thread) until it listens.
    public static func start(status: Int = 200, responseBody: Data = Data("{}".utf8), hang: Bool = false) async throws -> HTTPRecorder {
        guard let python = PaymentPeer.python else {
            throw Failure(description: "RECHARGE_TEST_PEERS_PYTHON is not set; run eval \"$(scripts/start-peers)\"")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("http-recorder-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let bodyFile = directory.appendingPathComponent("response.json")
        let portFile = directory.appendingPathComponent("port")
        try responseBody.write(to: bodyFile)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script.path, "--log", directory.appendingPathComponent("requests.jsonl").path,
                             "--port-file", portFile.path, "--status", String(status), "--body-file", bodyFile.path]
            + (hang ? ["--hang"] : [])
        let lifeline = Pipe()
        process.standardInput = lifeline
        try process.run()

        for _ in 0..<200 {
            if let text = try? String(contentsOf: portFile, encoding: .utf8), let port = Int(text) {
                return HTTPRecorder(port: port, process: process, lifeline: lifeline, directory: directory)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        try? lifeline.fileHandleForWriting.close()
        process.terminate()
        throw Failure(description: "http_recorder.py did not start listening within 10 s")
    }

    deinit {
        // Not waitUntilExit: on Linux it spins its run loop, and a child that ignored the signal would
        // hang the test run.
        try? lifeline.fileHandleForWriting.close()
        process.terminate()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Makes every later request answered with `body` (same status).
    public func respond(with body: Data) throws {
        try body.write(to: directory.appendingPathComponent("response.json"), options: .atomic)
    }

    public func requests() throws -> [Request] {
        guard let data = try? Data(contentsOf: log) else { return [] }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try data.split(separator: UInt8(ascii: "\n")).map { try decoder.decode(Request.self, from: Data($0)) }
    }

    /// Polls until a request matching `predicate` has arrived, or `seconds` have passed.
    public func waitForRequest(within seconds: Double, where predicate: (Request) -> Bool) async throws -> Request {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let match = try requests().first(where: predicate) { return match }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw Failure(description: "no matching request within \(seconds) s; received \(try requests().map { "\($0.method) \($0.path)" })")
    }
}
