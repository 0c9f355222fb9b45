import AsyncHTTPClient
import Foundation
import _CryptoExtras

/// Runs one of the SDK-built gateway stand-ins (`scripts/peers/alipay_gateway.py`,
/// `scripts/peers/wechat_gateway.py`) on a free loopback port, with the keys it needs written to files.
///
/// Its Python is `RECHARGE_TEST_PEERS_PYTHON`. The child is stopped by `stop()` (every test calls it in a
/// `defer`) and, failing that, by `deinit`; closing its stdin stops it too, even if this process dies. The
/// scripts unblock SIGTERM first, because Foundation's Process on Linux starts children with it blocked.
public final class GatewayPeer: @unchecked Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public static let scriptsDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("scripts/peers")

    public let port: Int
    private let process: Process
    private let lifeline: Pipe
    private let directory: URL
    private var stopped = false

    public var url: String { "http://127.0.0.1:\(port)" }

    private init(port: Int, process: Process, lifeline: Pipe, directory: URL) {
        self.port = port
        self.process = process
        self.lifeline = lifeline
        self.directory = directory
    }

    /// `files` are written to a fresh directory; an argument `@name` becomes that file's path.
    public static func start(script: String, arguments: [String], files: [String: Data]) async throws -> GatewayPeer {
        guard let python = PaymentPeer.python else {
            throw Failure(description: "RECHARGE_TEST_PEERS_PYTHON is not set; run eval \"$(scripts/start-peers)\"")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gateway-peer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for (name, contents) in files { try contents.write(to: directory.appendingPathComponent(name)) }
        let portFile = directory.appendingPathComponent("port")
        let resolved = arguments.map { $0.hasPrefix("@") ? directory.appendingPathComponent(String($0.dropFirst())).path : $0 }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [scriptsDirectory.appendingPathComponent(script).path, "--port-file", portFile.path] + resolved
        let lifeline = Pipe()
        process.standardInput = lifeline
        let log = directory.appendingPathComponent("stderr.log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: log)
        try process.run()

        for _ in 0..<200 {
            if let text = try? String(contentsOf: portFile, encoding: .utf8), let port = Int(text) {
                return GatewayPeer(port: port, process: process, lifeline: lifeline, directory: directory)
            }
            if !process.isRunning { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let errors = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        try? lifeline.fileHandleForWriting.close()
        if process.isRunning { process.terminate() }
        try? FileManager.default.removeItem(at: directory)
        throw Failure(description: "\(script) did not start listening within 10 s: \(errors)")
    }

    /// Ends the child and waits (without `waitUntilExit`, which spins the run loop on Linux) until it is gone.
    public func stop() async {
        guard !stopped else { return }
        stopped = true
        try? lifeline.fileHandleForWriting.close()
        if process.isRunning { process.terminate() }
        for _ in 0..<100 where process.isRunning {
            try? await Task.sleep(for: .milliseconds(20))
        }
        try? FileManager.default.removeItem(at: directory)
    }

    deinit {
        if !stopped {
            try? lifeline.fileHandleForWriting.close()
            if process.isRunning { process.terminate() }
            try? FileManager.default.removeItem(at: directory)
        }
    }

    /// `POST <path>` to one of the peer's `/_test/…` hooks.
    public func hook(_ pathWithQuery: String) async throws {
        var request = HTTPClientRequest(url: url + pathWithQuery)
        request.method = .POST
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        guard response.status.code == 200 else { throw Failure(description: "\(pathWithQuery) answered \(response.status)") }
    }

    /// `GET <path>` on the peer; the body of a 200 answer.
    public func fetch(_ pathWithQuery: String) async throws -> Data {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url + pathWithQuery), timeout: .seconds(10))
        let body = Data(try await response.body.collect(upTo: 1 << 20).readableBytesView)
        guard response.status.code == 200 else { throw Failure(description: "\(pathWithQuery) answered \(response.status): \(String(decoding: body, as: UTF8.self))") }
        return body
    }

    public static func pem(_ key: _RSA.Signing.PrivateKey) -> Data { Data(key.pemRepresentation.utf8) }
    public static func pem(_ key: _RSA.Signing.PublicKey) -> Data { Data(key.pemRepresentation.utf8) }
}
