import Foundation
import Logging
import RechargeStore
import ServiceLifecycle

/// Queues validity reminders: every `interval`, if this node holds the `reminders` lease, runs a
/// ``ReminderStore`` scan that queues a `validityEnding` notification for each bucket ending within seven days
/// or one day, once per (bucket, notice), then renews the packs marked to renew whose period ends within a day
/// (``PackRenewalStore``). The ``DeliveryService`` (on this node or another) sends the messages.
///
/// Several nodes may run it: the lease (`service_leases`, renewed each round, lasting three intervals) lets one
/// node scan while the others stand by and take over when it stops renewing; if two scans overlap anyway, the
/// store's `SKIP LOCKED` chunks and `bucket_reminders` rows keep every reminder queued once.
public final class ReminderService: Service {
    public struct Configuration: Sendable {
        /// Time between scans.
        public var interval: Duration = .seconds(300)
        /// Buckets per scan transaction.
        public var chunkSize: Int = 500

        public init(interval: Duration = .seconds(300), chunkSize: Int = 500) {
            self.interval = interval
            self.chunkSize = chunkSize
        }
    }

    public static let leaseName = "reminders"

    let store: ReminderStore
    /// Auto-renewal of packs, run in the same round by the lease holder; nil: none.
    let renewals: PackRenewalStore?
    /// Portal accounts whose dead sessions, old codes and stale login counts the round sweeps; nil: none.
    let accounts: AccountStore?
    let configuration: Configuration
    let clock: @Sendable () -> Date
    /// This instance's name in the lease table.
    public let holder: String
    let logger: Logger

    public init(
        store: ReminderStore, renewals: PackRenewalStore? = nil, accounts: AccountStore? = nil, configuration: Configuration = Configuration(),
        clock: @escaping @Sendable () -> Date = { Date() },
        holder: String = "pid-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8).lowercased())",
        logger: Logger = Logger(label: "recharge.reminders")
    ) {
        precondition(configuration.interval > .zero, "the reminder interval must be positive")
        self.store = store
        self.renewals = renewals
        self.accounts = accounts
        self.configuration = configuration
        self.clock = clock
        self.holder = holder
        self.logger = logger
    }

    /// Scans every `interval` until graceful shutdown (or cancellation), then gives the lease up.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    // As in DeliveryService, a scan is not interrupted half-way by shutdown: it finishes its chunk.
                    _ = try await Task { try await self.runOnce() }.value
                } catch {
                    self.logger.error("reminder scan failed", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: self.configuration.interval)
            }
        }
        // In a task of its own: this one is cancelled, and the database refuses work from cancelled tasks.
        let (store, holder) = (self.store, self.holder)
        await Task { try? await store.releaseLease(Self.leaseName, holder: holder) }.value
    }

    /// One round: takes or renews the lease and, if this node holds it, scans. Nil when another node holds it.
    @discardableResult
    public func runOnce() async throws -> ReminderStore.Scan? {
        let now = clock()
        guard try await store.acquireLease(Self.leaseName, holder: holder, now: now, duration: configuration.interval * 3) else {
            logger.debug("another node holds the reminder lease")
            return nil
        }
        let scan = try await store.scan(now: now, chunkSize: configuration.chunkSize)
        if scan.reminders > 0 {
            logger.info("validity reminders queued", metadata: ["reminders": "\(scan.reminders)", "messages": "\(scan.messages)"])
        }
        if let renewals {
            // Packs ending within a day are bought again from the balance (or their subscriber told why not).
            let pass = try await renewals.renewDue(now: now)
            if pass.renewed + pass.failed > 0 {
                logger.info("pack renewals", metadata: ["renewed": "\(pass.renewed)", "failed": "\(pass.failed)"])
            }
        }
        if let accounts {
            let swept = try await accounts.sweep(now: now)
            if swept.sessions + swept.codes + swept.loginCounts > 0 {
                logger.info("portal records swept", metadata: [
                    "sessions": "\(swept.sessions)", "codes": "\(swept.codes)", "loginCounts": "\(swept.loginCounts)",
                ])
            }
        }
        return scan
    }
}
