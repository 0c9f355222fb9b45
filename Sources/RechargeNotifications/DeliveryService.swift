import Foundation
import Logging
import RechargeCore
import RechargeStore
import ServiceLifecycle

/// Delivers the outbox: claims a batch of due messages, renders each in its language, sends it by its
/// channel (SMPP for `sms`, SMTP for `email`, the ``DevInbox`` for `dev` and for any channel without a
/// configured server), and records the result: sent, pending again after a back-off (transient errors), or
/// dead (permanent errors, or too many attempts).
///
/// Several nodes may run it on one PostgreSQL database: claims never overlap (`FOR UPDATE SKIP LOCKED`),
/// and a worker that dies mid-send leaves a lease that expires, after which another worker sends again.
/// Delivery is therefore at-least-once per (event, channel), and exactly once unless a node dies between a
/// provider's acceptance and `markSent`.
public final class DeliveryService: Service {
    public struct Configuration: Sendable {
        /// Messages claimed at a time.
        public var batchSize: Int = 64
        /// Batches one round may claim (each claimed when half of the one before is done).
        public var roundBatches: Int = 16
        /// How long a claim holds a message; longer than the slowest send (SMTP DATA may take minutes).
        public var lease: Duration = .seconds(300)
        /// Pause between rounds when the outbox had nothing due.
        public var pollInterval: Duration = .seconds(1)
        public var retry = OutboxRetryPolicy()

        public init() {}
    }

    /// What one round did.
    public struct Round: Sendable, Equatable {
        public var claimed = 0
        public var sent = 0
        public var retried = 0
        public var dead = 0
        public var lost = 0
    }

    let outbox: OutboxStore
    let renderer: NotificationRenderer
    let sms: (any NotificationTransport)?
    let email: (any NotificationTransport)?
    public let devInbox: DevInbox
    let configuration: Configuration
    let clock: @Sendable () -> Date
    let jitter: @Sendable () -> Double
    let logger: Logger

    /// - Parameters:
    ///   - sms, email: the transports for those channels; nil sends that channel to `devInbox`.
    ///   - clock: the time used for claims, leases and back-off (tests move it).
    ///   - jitter: 0…1, scales each back-off between 50 % and 100 %.
    public init(
        outbox: OutboxStore, renderer: NotificationRenderer, sms: (any NotificationTransport)?, email: (any NotificationTransport)?,
        devInbox: DevInbox = DevInbox(), configuration: Configuration = Configuration(),
        clock: @escaping @Sendable () -> Date = { Date() }, jitter: @escaping @Sendable () -> Double = { Double.random(in: 0...1) },
        logger: Logger = Logger(label: "recharge.notify")
    ) {
        self.outbox = outbox
        self.renderer = renderer
        self.sms = sms
        self.email = email
        self.devInbox = devInbox
        self.configuration = configuration
        self.clock = clock
        self.jitter = jitter
        self.logger = logger
    }

    /// Runs rounds until graceful shutdown (or cancellation), alongside the transports' sessions.
    public func run() async throws {
        try await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                // Sessions (the SMPP bind) run beside the loop; transports without one return at once.
                for transport in [self.sms, self.email].compactMap({ $0 }) {
                    group.addTask { await transport.run(outbox: self.outbox, clock: self.clock) }
                }
                await self.loop()
                group.cancelAll()
            }
        }
    }

    private func loop() async {
        var failures = 0
        while !Task.isCancelled {
            do {
                // A round runs in a task of its own, outside this task's cancellation: on shutdown the messages
                // already claimed are sent and their results recorded, rather than left `sending` until their
                // lease expires and then sent a second time.
                let round = try await Task { try await self.deliverDue() }.value
                failures = 0
                if round.claimed < configuration.batchSize {
                    try await Task.sleep(for: configuration.pollInterval)
                }
            } catch is CancellationError {
                return
            } catch {
                // The database is unreachable or similar: wait longer each time, up to a minute.
                failures += 1
                logger.error("outbox round failed", metadata: ["error": "\(error)"])
                let pause = min(configuration.pollInterval * (1 << min(failures, 6)), .seconds(60))
                try? await Task.sleep(for: pause)
            }
        }
    }

    /// Runs the transports' sessions (the SMPP bind) and delivers rounds until one finds nothing due, then stops
    /// the sessions. Messages put back for a later retry are left for later. Returns the totals of all rounds.
    public func deliverUntilEmpty() async throws -> Round {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for transport in [self.sms, self.email].compactMap({ $0 }) {
                group.addTask { await transport.run(outbox: self.outbox, clock: self.clock) }
            }
            var total = Round()
            do {
                while true {
                    let round = try await deliverDue()
                    total.claimed += round.claimed
                    total.sent += round.sent
                    total.retried += round.retried
                    total.dead += round.dead
                    total.lost += round.lost
                    if round.claimed == 0 { break }
                }
            } catch {
                group.cancelAll()
                throw error
            }
            group.cancelAll()
            return total
        }
    }

    /// One round: claims up to `batchSize` due messages and delivers them concurrently; while they go out, the
    /// next batch is claimed as soon as half of the current one is done (so the SMPP window never drains between
    /// batches), until a claim comes back short or `batchSize × roundBatches` messages were claimed.
    @discardableResult
    public func deliverDue() async throws -> Round {
        let batchSize = configuration.batchSize
        let ceiling = batchSize * max(1, configuration.roundBatches)
        var round = Round()
        try await withThrowingTaskGroup(of: Outcome.self) { group in
            var inFlight = 0
            var exhausted = false
            func claimMore() async throws {
                let messages = try await outbox.claim(limit: batchSize, now: clock(), lease: configuration.lease)
                round.claimed += messages.count
                exhausted = messages.count < batchSize || round.claimed >= ceiling
                for message in messages {
                    group.addTask { await self.deliver(message) }
                }
                inFlight += messages.count
            }
            try await claimMore()
            while inFlight > 0, let outcome = try await group.next() {
                inFlight -= 1
                switch outcome {
                case .sent: round.sent += 1
                case .retried: round.retried += 1
                case .dead: round.dead += 1
                case .lost: round.lost += 1
                }
                if !exhausted, inFlight <= batchSize / 2 {
                    do {
                        try await claimMore()
                    } catch {
                        // The messages in flight finish and are recorded; the claim is tried again next round.
                        exhausted = true
                        logger.error("outbox claim failed", metadata: ["error": "\(error)"])
                    }
                }
            }
        }
        return round
    }

    enum Outcome { case sent, retried, dead, lost }

    private func transport(for channel: NotificationChannel) -> any NotificationTransport {
        switch channel {
        case .sms: sms ?? devInbox
        case .email: email ?? devInbox
        case .dev: devInbox
        }
    }

    private func deliver(_ message: OutboxMessage) async -> Outcome {
        let policy = configuration.retry
        var metadata: Logger.Metadata = ["outbox_id": "\(message.id)", "channel": "\(message.channel.rawValue)", "attempt": "\(message.attempts)"]
        do {
            // A message whose leases kept expiring (its sender died each time) is given up like any other.
            guard message.attempts <= policy.maximumAttempts else {
                try await outbox.markDead(message, error: message.lastError ?? "gave up after \(policy.maximumAttempts) attempts", now: clock())
                return .dead
            }
            let outcome: Outcome
            do {
                guard let event = message.event else {
                    throw DeliveryFailure("the stored event '\(message.eventName)' cannot be read by this version", permanent: true)
                }
                let deliverable: NotificationEvent
                do {
                    deliverable = try await outbox.deliverable(event)
                } catch let error as CodeSealError {
                    throw DeliveryFailure(error.description, permanent: true)
                }
                let rendered = try renderer.render(deliverable, language: message.language, channel: message.channel)
                let providerID = try await transport(for: message.channel).send(message, rendered: rendered, now: clock())
                try await outbox.markSent(message, providerID: providerID, now: clock())
                outcome = .sent
            } catch let error as OutboxError {
                throw error
            } catch {
                metadata["error"] = "\(error)"
                if DeliveryFailure.isPermanent(error) || !policy.allowsRetry(afterAttempt: message.attempts) {
                    try await outbox.markDead(message, error: String(describing: error), now: clock())
                    logger.warning("notification dead-lettered", metadata: metadata)
                    outcome = .dead
                } else {
                    let delay = policy.delay(afterAttempt: message.attempts, jitter: jitter())
                    let retryAt = clock().addingTimeInterval(Double(delay.components.seconds) + Double(delay.components.attoseconds) / 1e18)
                    try await outbox.markFailed(message, error: String(describing: error), retryAt: retryAt)
                    logger.notice("notification will be retried", metadata: metadata)
                    outcome = .retried
                }
            }
            return outcome
        } catch {
            // The claim was lost (lease expired and another worker took the row) or the database failed:
            // the row stays with whoever holds it now, or is reclaimed when its lease expires.
            metadata["error"] = "\(error)"
            logger.warning("could not record a delivery result", metadata: metadata)
            return .lost
        }
    }
}
