import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import RechargeServer
import RechargeStore
import RechargeTestSupport
import ServiceLifecycle
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A client that speaks raw TCP, as a slowloris does: it sends what it likes and reads what comes back.
final class RawSocket: Sendable {
    let descriptor: Int32

    init(port: Int) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            close(descriptor)
            throw RawSocketError.cannotConnect
        }
    }

    deinit { close(descriptor) }

    func send(_ text: String) {
        _ = text.utf8CString.withUnsafeBufferPointer { Glibc.send(descriptor, $0.baseAddress, $0.count - 1, Int32(MSG_NOSIGNAL)) }
    }

    /// Waits up to `timeout` for bytes or the server's close: `.closed`, `.data`, or `.nothing` (still open, silent).
    /// The blocking `poll` runs on a Dispatch thread: on the cooperative pool (two threads here) it would starve the
    /// very server it waits for.
    func wait(_ timeout: Duration) async -> RawSocketEvent {
        let descriptor = descriptor
        return await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: Self.wait(descriptor, timeout)) }
        }
    }

    private static func wait(_ descriptor: Int32, _ timeout: Duration) -> RawSocketEvent {
        var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        let milliseconds = Int32(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        guard poll(&poller, 1, milliseconds) > 0 else { return .nothing }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = recv(descriptor, &buffer, buffer.count, 0)
        return count <= 0 ? .closed : .data(String(decoding: buffer.prefix(count), as: UTF8.self))
    }
}

enum RawSocketError: Error { case cannotConnect }

enum RawSocketEvent: Equatable {
    case closed
    case data(String)
    case nothing
}

/// Slowloris and connection floods against a real listener (docs/security.md): a head that never completes is cut
/// off at the header timeout, and past the connection cap new connections wait instead of taking descriptors.
@Suite("Connection limits", .serialized) struct ConnectionLimitsTests {
    /// Runs the application as `serve` does, on a free loopback port. (HummingbirdTesting's `.live` rebuilds the
    /// configuration with `with(address:)`, which drops the connection cap, so it cannot test one.)
    static func live(_ limits: ConnectionLimits, _ body: @escaping @Sendable (Int) async throws -> Void) async throws {
        try await TestDatabase.with(.sqlite) { database in
            let services = RechargeServices(database: database, apiKeyCacheLifetime: .zero)
            let port = try freePort()
            let app = buildApplication(ServerConfiguration(port: port, limits: limits), services: services)
            let group = ServiceGroup(configuration: .init(services: [app], logger: Logger(label: "test")))
            let running = Task { try await group.run() }
            defer { running.cancel() }
            var started = false
            for _ in 0..<100 where !started {
                if (try? RawSocket(port: port)) != nil { started = true } else { try await Task.sleep(for: .milliseconds(50)) }
            }
            // The probe's connection is closed: wait until the server has counted it closed too.
            try await Task.sleep(for: .milliseconds(200))
            do {
                try await body(port)
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            _ = try? await running.value
        }
    }

    static func freePort() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(descriptor, pointer, length) == 0 && getsockname(descriptor, pointer, &length) == 0
            }
        }
        guard bound else { throw RawSocketError.cannotConnect }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    @Test func halfSentRequestIsClosedAtTheHeaderTimeout() async throws {
        try await Self.live(ConnectionLimits(headerTimeout: .seconds(1), idleTimeout: .seconds(30))) { port in
            let slow = try RawSocket(port: port)
            slow.send("GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
            let started = ContinuousClock.now
            // Dribbling more bytes does not buy time: the deadline moves only when a whole head arrives.
            for _ in 0..<3 {
                if case .closed = await slow.wait(.milliseconds(300)) { break }
                slow.send("a")
            }
            var event = RawSocketEvent.nothing
            while event == .nothing, ContinuousClock.now - started < .seconds(5) { event = await slow.wait(.milliseconds(200)) }
            #expect(event == .closed)
            let held = ContinuousClock.now - started
            #expect(held >= .milliseconds(700) && held < .seconds(3), "closed after \(held)")

            // A whole request is answered, and its kept-alive connection stays open past the header timeout.
            let good = try RawSocket(port: port)
            good.send("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            guard case .data(let response) = await good.wait(.seconds(5)) else { Issue.record("no response"); return }
            #expect(response.hasPrefix("HTTP/1.1 200"))
            #expect(await good.wait(.milliseconds(1500)) == .nothing)
        }
    }

    @Test func connectionsPastTheCapWaitUntilSomeClose() async throws {
        // Three half-sent requests fill the cap of three.
        try await Self.live(ConnectionLimits(headerTimeout: .seconds(2), idleTimeout: .seconds(30), maximumConnections: 3)) { port in
            let holders = try (0..<3).map { _ in try RawSocket(port: port) }
            for holder in holders { holder.send("GET /healthz HTTP/1.1\r\n") }
            try await Task.sleep(for: .milliseconds(200))
            let started = ContinuousClock.now
            let waiting = try RawSocket(port: port)   // the kernel completes the handshake; the server does not accept
            waiting.send("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            #expect(await waiting.wait(.milliseconds(1000)) == .nothing, "answered although the cap was reached")
            var event = RawSocketEvent.nothing
            while event == .nothing, ContinuousClock.now - started < .seconds(8) { event = await waiting.wait(.milliseconds(200)) }
            guard case .data(let response) = event else { Issue.record("never answered: \(event)"); return }
            #expect(response.hasPrefix("HTTP/1.1 200"))
            #expect(ContinuousClock.now - started > .seconds(1))
        }
    }

    /// `--metrics-port`: `/metrics` leaves the public listener for one of its own.
    @Test func metricsCanHaveTheirOwnListener() async throws {
        try await TestDatabase.with(.sqlite) { database in
            let services = RechargeServices(database: database, apiKeyCacheLifetime: .zero)
            try await buildApplication(ServerConfiguration(metricsPort: 9999), services: services).test(.router) { client in
                let metrics = try await client.execute(uri: "/metrics", method: .get)
                let health = try await client.execute(uri: "/healthz", method: .get)
                #expect(metrics.status == .notFound && health.status == .ok)
            }
            try await buildApplication(ServerConfiguration(), services: services).test(.router) { client in
                let metrics = try await client.execute(uri: "/metrics", method: .get)
                #expect(metrics.status == .ok)
            }
            try await buildMetricsApplication(ServerConfiguration(), port: 0, services: services).test(.live) { client in
                let metrics = try await client.execute(uri: "/metrics", method: .get)
                #expect(metrics.status == .ok && String(buffer: metrics.body).contains("recharge_group_commit_batches_total"))
                let health = try await client.execute(uri: "/healthz", method: .get)
                let balance = try await client.execute(uri: "/v1/lines/+14155550100/balance", method: .get)
                #expect(health.status == .notFound && balance.status == .notFound)
            }
        }
    }
}
