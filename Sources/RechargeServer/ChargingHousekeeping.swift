import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import RechargeStore
import ServiceLifecycle

/// Tells one kind of network that a session stopped for credit may resume: Diameter (a Re-Auth-Request to the peer
/// that holds the session) or HTTP (a POST to the session's callback).
public protocol ChargingReAuthSender: Sendable {
    /// `(sent, result)`: the peer's answer (sent: it acknowledged; not sent: it refused for good); nil: not possible
    /// from this node now (no connection to that peer), to be tried again.
    func reAuth(_ reauth: ChargingStore.PendingReAuth) async -> (sent: Bool, result: String)?
}

/// The HTTP interface's re-auth: `POST {notifyUri}` with `{"sessionId": …, "event": "reauthorize"}`; any 2xx is an
/// acknowledgement. The URL was given by a client with the `write` scope when it opened the session.
public struct HTTPReAuthSender: ChargingReAuthSender {
    let client: HTTPClient
    let timeout: TimeAmount

    public init(client: HTTPClient = .shared, timeout: TimeAmount = .seconds(5)) {
        self.client = client
        self.timeout = timeout
    }

    public func reAuth(_ reauth: ChargingStore.PendingReAuth) async -> (sent: Bool, result: String)? {
        guard let url = reauth.peer else { return (false, "no notifyUri") }
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        let body = (try? JSONSerialization.data(withJSONObject: ["sessionId": reauth.sessionID, "event": "reauthorize"], options: [.sortedKeys])) ?? Data()
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let response = try await client.execute(request, timeout: timeout)
            let status = response.status.code
            if (200..<300).contains(status) { return (true, "HTTP \(status)") }
            // A client error will not get better; a server error may.
            return (400..<500).contains(status) || reauth.attempts >= 10 ? (false, "HTTP \(status)") : nil
        } catch {
            return reauth.attempts >= 10 ? (false, "\(error)") : nil
        }
    }
}

/// The charging engine's background work: voids the reservations of sessions the network stopped reporting on
/// (validity plus grace), and sends the re-auths a recharge queued. Safe on several nodes: expiry locks the lines like
/// a request, re-auths are leased.
public struct ChargingHousekeepingService: Service {
    let store: ChargingStore
    let senders: [String: any ChargingReAuthSender]
    let interval: Duration
    let clock: @Sendable () -> Date
    let logger: Logger

    /// `senders` by interface (`diameter`, `http`).
    public init(store: ChargingStore, senders: [String: any ChargingReAuthSender], interval: Duration = .seconds(1),
                clock: @escaping @Sendable () -> Date = { Date() }, logger: Logger) {
        self.store = store
        self.senders = senders
        self.interval = interval
        self.clock = clock
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await Task { await self.runOnce() }.value
                try? await Task.sleep(for: self.interval)
            }
        }
    }

    /// One pass: expiry, then re-auths. Errors are logged; the next pass tries again.
    public func runOnce() async {
        do {
            let expired = try await store.expireSessions(now: clock())
            if expired > 0 { logger.info("Charging sessions expired without a report; their reservations were released", metadata: ["count": "\(expired)"]) }
            for reauth in try await store.claimReAuths(now: clock()) {
                guard let sender = senders[reauth.interface] else { continue }
                let outcome = await sender.reAuth(reauth)
                try await store.finishReAuth(reauth.id, outcome: outcome, now: clock())
                if let outcome {
                    logger.info("Re-auth after a recharge", metadata: ["session": "\(reauth.sessionID)", "sent": "\(outcome.sent)", "result": "\(outcome.result)"])
                }
            }
        } catch {
            logger.warning("Charging housekeeping failed; retrying next pass", metadata: ["error": "\(error)"])
        }
    }
}
