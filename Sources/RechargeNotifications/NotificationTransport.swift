import Foundation
import Logging
import NIOConcurrencyHelpers
import RechargeCore
import RechargeMessaging
import RechargeStore

/// Sends one rendered outbox message over one channel and returns the provider's id for it (SMPP
/// message_id, the SMTP server's queue reply), or throws. `isPermanent(_:)` on the error decides between a
/// retry and the dead letter.
public protocol NotificationTransport: Sendable {
    func send(_ message: OutboxMessage, rendered: RenderedNotification, now: Date) async throws -> String?
    /// Runs whatever session the transport keeps (the SMPP bind), until cancelled. Returns at once if none.
    func run(outbox: OutboxStore, clock: @escaping @Sendable () -> Date) async
}

extension NotificationTransport {
    public func run(outbox: OutboxStore, clock: @escaping @Sendable () -> Date) async {}
}

/// A failure a transport classifies itself.
public struct DeliveryFailure: Error, CustomStringConvertible, Equatable {
    public let reason: String
    public let isPermanent: Bool

    public init(_ reason: String, permanent: Bool) {
        self.reason = reason
        self.isPermanent = permanent
    }

    public var description: String { reason }

    /// Whether retrying `error` later cannot help.
    public static func isPermanent(_ error: any Error) -> Bool {
        switch error {
        case let error as DeliveryFailure: error.isPermanent
        case let error as SMTPError: error.isPermanent
        case let error as SMPPError: error.isPermanent
        case is NotificationTemplateError: true
        default: false
        }
    }
}

/// SMS through an SMPP 3.4 SMSC. Destinations are E.164 digits without `+` (TON 1, NPI 1). The provider id
/// is the message_id of the first part; delivery receipts for it set `delivered_at`.
public struct SMPPTransport: NotificationTransport {
    public let client: SMPPClient
    public let sourceAddress: String?
    let logger: Logger

    public init(client: SMPPClient, sourceAddress: String? = nil, logger: Logger = Logger(label: "recharge.notify.smpp")) {
        self.client = client
        self.sourceAddress = sourceAddress
        self.logger = logger
    }

    public func send(_ message: OutboxMessage, rendered: RenderedNotification, now: Date) async throws -> String? {
        let destination = message.recipient.hasPrefix("+") ? String(message.recipient.dropFirst()) : message.recipient
        guard !destination.isEmpty, destination.allSatisfy(\.isASCII), destination.allSatisfy(\.isNumber) else {
            throw DeliveryFailure("'\(message.recipient)' is not a phone number", permanent: true)
        }
        let submission = try await client.submit(SMSMessage(destination: destination, text: rendered.sms, source: sourceAddress))
        return submission.messageIDs.first
    }

    /// What a delivery receipt does to the outbox: `DELIVRD` sets `delivered_at`; a final failure (`UNDELIV`,
    /// `REJECTD`, `EXPIRED`, `DELETED`, `UNKNOWN`) makes the message `dead` with the state and error code as its
    /// `last_error`; intermediate states (`ENROUTE`, `ACCEPTD`) and receipts without a state change nothing.
    /// Returns what was recorded: `delivered`, `failed` or nil.
    @discardableResult
    public static func record(_ receipt: SMPPDeliveryReceipt, outbox: OutboxStore, now: Date) async throws -> SMPPMessageState? {
        guard let state = receipt.state, state.isFinal else { return nil }
        if state == .delivered {
            try await outbox.recordReceipt(providerID: receipt.messageID, deliveredAt: now, now: now)
        } else {
            let error = receipt.errorCode.map { $0.isEmpty ? "" : " err:\($0)" } ?? ""
            try await outbox.recordReceiptFailure(providerID: receipt.messageID, failure: "delivery receipt: stat:\(state.receiptWord)\(error)", now: now)
        }
        return state
    }

    /// Receipts being written at once; more wait in the SMPP client's inbound stream.
    static let maximumReceiptsInFlight = 256

    /// Binds and serves the session; turns final delivery receipts into `delivered_at` or a dead message.
    public func run(outbox: OutboxStore, clock: @escaping @Sendable () -> Date) async {
        let client = self.client
        let logger = self.logger
        await withTaskCancellationHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await client.run() }
                group.addTask {
                    // Receipts are recorded concurrently (up to `maximumReceiptsInFlight`), so the outbox's group
                    // commit writes a burst of them in a few transactions rather than one each, in arrival order.
                    await withTaskGroup(of: Void.self) { receipts in
                        var inFlight = 0
                        for await inbound in client.inbound {
                            guard case .deliveryReceipt(let receipt) = inbound else { continue }
                            if inFlight >= Self.maximumReceiptsInFlight {
                                await receipts.next()
                                inFlight -= 1
                            }
                            inFlight += 1
                            receipts.addTask {
                                do {
                                    try await Self.record(receipt, outbox: outbox, now: clock())
                                } catch is CancellationError {
                                    // shutting down: receipts from now on are not recorded
                                } catch {
                                    logger.warning("could not record a delivery receipt", metadata: ["message_id": "\(receipt.messageID)", "error": "\(error)"])
                                }
                            }
                        }
                        await receipts.waitForAll()
                    }
                }
                await group.waitForAll()
            }
        } onCancel: {
            Task { await client.shutdown() }
        }
    }
}

/// Email through an SMTP server: a `multipart/alternative` message (text and HTML) from `from`. The
/// Message-ID is derived from the outbox row, so a message sent again after a lost acknowledgement carries
/// the same id and receiving systems can drop the duplicate.
public struct SMTPTransport: NotificationTransport {
    public let client: SMTPClient
    public let from: MailAddress

    public init(client: SMTPClient, from: MailAddress) {
        self.client = client
        self.from = from
    }

    public func send(_ message: OutboxMessage, rendered: RenderedNotification, now: Date) async throws -> String? {
        let mail = MailMessage(
            from: from, to: [MailAddress(message.recipient)], subject: rendered.subject, textBody: rendered.text,
            htmlBody: rendered.html, date: now, messageID: "outbox-\(message.id)@\(from.domain)")
        let delivery = try await client.send(mail)
        guard !delivery.acceptedRecipients.isEmpty else {
            throw DeliveryFailure("the server refused every recipient: \(delivery.rejectedRecipients.values.map(\.description).joined(separator: "; "))",
                                  permanent: delivery.rejectedRecipients.values.allSatisfy(\.isPermanentNegative))
        }
        return delivery.reply.description
    }
}

/// The development inbox, used when no SMTP or SMPP server is configured: the rendered text is logged and
/// kept (the most recent 500), and the message counts as sent.
public final class DevInbox: NotificationTransport {
    public struct Entry: Sendable, Hashable {
        public let outboxID: Int64
        public let channel: NotificationChannel
        public let recipient: String
        public let rendered: RenderedNotification
        public let at: Date
    }

    private let entries = NIOLockedValueBox<[Entry]>([])
    private let logger: Logger
    private let capacity: Int
    private let logsCodes: Bool

    /// - Parameter logsCodes: whether the log shows one-time codes (only `--demo`: a log is read by more people
    ///   than a phone, and a code logged is an account taken over).
    public init(logger: Logger = Logger(label: "recharge.notify.dev"), capacity: Int = 500, logsCodes: Bool = false) {
        self.logger = logger
        self.capacity = capacity
        self.logsCodes = logsCodes
    }

    public var received: [Entry] { entries.withLockedValue { $0 } }

    public func send(_ message: OutboxMessage, rendered: RenderedNotification, now: Date) async throws -> String? {
        let text: String
        if message.eventName == NotificationEvent.Name.oneTimeCode.rawValue && !logsCodes {
            text = "(a one-time code: withheld from the log outside --demo)"
        } else {
            text = message.channel == .email ? "\(rendered.subject)\n\(rendered.text)" : rendered.sms
        }
        logger.info("dev inbox: \(message.channel.rawValue) to \(message.recipient): \(text)", metadata: ["outbox_id": "\(message.id)", "event": "\(message.eventName)"])
        entries.withLockedValue { entries in
            entries.append(Entry(outboxID: message.id, channel: message.channel, recipient: message.recipient, rendered: rendered, at: now))
            if entries.count > capacity { entries.removeFirst(entries.count - capacity) }
        }
        return "dev-\(message.id)"
    }
}
