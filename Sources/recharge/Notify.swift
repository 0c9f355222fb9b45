import ArgumentParser
import Foundation
import Logging
import NIOPosix
import RechargeCore
import RechargeMessaging
import RechargeNotifications
import RechargeStore

struct NotifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "notify", abstract: "Notification templates and the outbox.", subcommands: [Preview.self, List.self, Deliver.self, Prefs.self])

    struct Preview: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Render an event's templates with sample values.")

        @Argument(help: ArgumentHelp("The event: \(NotificationEvent.Name.allCases.map(\.rawValue).joined(separator: ", ")).", valueName: "event"))
        var event: String

        @Option(name: .customLong("lang"), help: "en or zh-Hans.")
        var language = "en"

        func run() async throws {
            try await reportingErrors {
                guard let name = NotificationEvent.Name(rawValue: event) else {
                    throw CLIError("unknown event '\(event)'; known: \(NotificationEvent.Name.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                guard let language = NotificationLanguage(rawValue: self.language) else {
                    throw CLIError("unknown language '\(self.language)'; known: \(NotificationLanguage.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                let rendered = try NotificationRenderer.bundled().render(NotificationEvent.sample(name, now: Date()), language: language)
                let parts = SMSText.partCount(for: rendered.sms)
                print("""
                    SMS (\(SMSText.units(of: rendered.sms)) units, \(parts) part\(parts == 1 ? "" : "s")):
                    \(rendered.sms)

                    Subject: \(rendered.subject)

                    \(rendered.text)
                    """)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the newest outbox messages.")

        @OptionGroup var database: DatabaseOptions

        @Option(help: "pending, sending, sent or dead.")
        var state: String?

        @Option(help: "At most this many (1 to 1000).")
        var limit = 50

        func run() async throws {
            try await reportingErrors {
                let filter = try state.map { text in
                    guard let state = OutboxMessage.State(rawValue: text) else { throw CLIError("unknown state '\(text)': use pending, sending, sent or dead") }
                    return state
                }
                guard (1...1000).contains(limit) else { throw CLIError("--limit must be from 1 to 1000") }
                let db = try await database.open()
                let messages: [OutboxMessage]
                do {
                    messages = try await OutboxStore(database: db).list(state: filter, limit: limit)
                } catch {
                    await db.close()
                    throw error
                }
                await db.close()
                if messages.isEmpty { print("no messages"); return }
                for message in messages {
                    let error = message.lastError.map { "  error: \($0)" } ?? ""
                    print("\(message.id)\t\(message.state.rawValue)\t\(message.channel.rawValue)\t\(message.recipient)\t\(message.eventName)\tattempts=\(message.attempts)\t\(message.eventKey)\(error)")
                }
            }
        }
    }
}

/// The delivery service `recharge serve` runs, configured from the environment (see docs/notifications.md):
/// SMPP when `RECHARGE_SMPP_URL` is set, SMTP when `RECHARGE_SMTP_URL` and `RECHARGE_SMTP_FROM` are, the dev
/// inbox (log only) for any channel without a server.
extension NotifyCommand {
    struct Deliver: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Deliver every message that is due now, then exit (RECHARGE_SMPP_URL, RECHARGE_SMTP_URL as for serve).",
            discussion: "Rounds of --batch-size messages until a round finds nothing due; messages put back for a later retry stay queued. `serve` delivers continuously.")

        @OptionGroup var database: DatabaseOptions

        @Option(help: "Messages claimed at a time (1 to 1000); the next batch is claimed when half of one is sent.")
        var batchSize = 64

        func run() async throws {
            try await reportingErrors {
                guard (1...1000).contains(batchSize) else { throw CLIError("--batch-size must be from 1 to 1000") }
                var logger = Logger(label: "recharge")
                logger.logLevel = .warning
                let db = try await database.open()
                let round: DeliveryService.Round
                let elapsed: Duration
                do {
                    var configuration = DeliveryService.Configuration()
                    configuration.batchSize = batchSize
                    let service = try DeliverySetup.make(environment: ProcessInfo.processInfo.environment, database: db, logger: logger, configuration: configuration)
                    let start = ContinuousClock.now
                    round = try await service.deliverUntilEmpty()
                    elapsed = ContinuousClock.now - start
                } catch {
                    await db.close()
                    throw error
                }
                await db.close()
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                let rate = seconds > 0 ? Double(round.sent) / seconds : 0
                print("claimed=\(round.claimed) sent=\(round.sent) retried=\(round.retried) dead=\(round.dead) lost=\(round.lost) seconds=\(String(format: "%.3f", seconds)) sent_per_second=\(String(format: "%.0f", rate))")
            }
        }
    }
}

enum DeliverySetup {
    static func make(
        environment: [String: String], database: Database, logger: Logger, configuration: DeliveryService.Configuration = DeliveryService.Configuration(),
        showCodes: Bool = false
    ) throws -> DeliveryService {
        let group = MultiThreadedEventLoopGroup.singleton
        var sms: (any NotificationTransport)?
        var email: (any NotificationTransport)?
        if let url = environment["RECHARGE_SMPP_URL"], !url.isEmpty {
            let configuration = try MessagingEndpoints.smpp(url: url, source: environment["RECHARGE_SMS_SOURCE"])
            sms = SMPPTransport(client: SMPPClient(configuration: configuration, group: group, logger: logger), logger: logger)
            logger.info("SMS notifications go to the SMSC", metadata: ["smsc": "\(configuration.host):\(configuration.port)"])
        }
        if let url = environment["RECHARGE_SMTP_URL"], !url.isEmpty {
            guard let fromText = environment["RECHARGE_SMTP_FROM"], !fromText.isEmpty else {
                throw CLIError("RECHARGE_SMTP_URL is set but RECHARGE_SMTP_FROM is not: set the sender address")
            }
            let configuration = try MessagingEndpoints.smtp(url: url)
            email = SMTPTransport(client: SMTPClient(configuration: configuration, group: group, logger: logger), from: try MessagingEndpoints.mailFrom(fromText))
            logger.info("Email notifications go to the SMTP server", metadata: ["smtp": "\(configuration.host):\(configuration.port)"])
        }
        if sms == nil || email == nil {
            logger.notice("No \(sms == nil && email == nil ? "SMTP or SMPP server" : sms == nil ? "SMPP server" : "SMTP server") configured: those notifications go to the dev inbox (the log and /dev/outbox)")
        }
        return DeliveryService(
            outbox: OutboxStore(database: database), renderer: try NotificationRenderer.bundled(), sms: sms, email: email,
            devInbox: DevInbox(logsCodes: showCodes), configuration: configuration, logger: logger)
    }
}

/// `recharge notify prefs`: a line's notification settings, shown or changed (what customer service does when a
/// subscriber asks on the phone). Options not given keep their value.
extension NotifyCommand {
    struct Prefs: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a line's notification settings, or change them (options not given keep their value).")

        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The line's number.") var msisdn: String
        @Option(help: "SMS notices: on or off.") var sms: String?
        @Option(help: "Email notices: on or off.") var email: String?
        @Option(help: "The line's own email address, or 'none' for the subscriber's.") var emailAddress: String?
        @Option(help: "en or zh-Hans.") var language: String?
        @Option(help: "Low-balance threshold, e.g. 5.00 (in the line's currency).") var lowBalance: String?

        func run() async throws {
            try await reportingErrors {
                func flag(_ text: String?, _ name: String) throws -> Bool? {
                    switch text {
                    case nil: return nil
                    case "on": return true
                    case "off": return false
                    case let other?: throw CLIError("--\(name) must be on or off, not '\(other)'")
                    }
                }
                let sms = try flag(self.sms, "sms")
                let email = try flag(self.email, "email")
                let language = try self.language.map { text in
                    guard let value = NotificationLanguage(rawValue: text) else { throw CLIError("--language must be en or zh-Hans, not '\(text)'") }
                    return value
                }
                let number = try MSISDN(msisdn)
                let db = try await database.open()
                do {
                    let store = NotificationPreferencesStore(database: db)
                    var current = try await store.preferences(number)
                    if sms != nil || email != nil || emailAddress != nil || language != nil || lowBalance != nil {
                        let address: String? = emailAddress.map { $0 == "none" ? nil : $0 } ?? current.email
                        let threshold = try lowBalance.map { try Money.parseCLI($0, defaultCurrency: current.lowBalanceThreshold.currency) }
                            ?? current.lowBalanceThreshold
                        current = try await store.replace(number, with: try NotificationPreferences(
                            smsEnabled: sms ?? current.smsEnabled, emailEnabled: email ?? current.emailEnabled, email: address,
                            language: language ?? current.language, lowBalanceThreshold: threshold), now: Date())
                    }
                    await db.close()
                    print("\(current.msisdn): sms \(current.smsEnabled ? "on" : "off"), email \(current.emailEnabled ? "on" : "off") (\(current.email ?? "no address")), language \(current.language.rawValue), low balance below \(current.lowBalanceThreshold)")
                } catch {
                    await db.close()
                    throw error
                }
            }
        }
    }
}
