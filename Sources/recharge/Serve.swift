import ArgumentParser
import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import RechargeCore
import RechargeDiameter
import RechargeNotifications
import RechargePayments
import RechargeServer
import RechargeStore
import ServiceLifecycle

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the HTTP API server.")

    @OptionGroup var database: DatabaseOptions

    @Option(help: "Address to listen on. Env: RECHARGE_HOST.")
    var hostname: String?

    @Option(help: "Port to listen on. Env: RECHARGE_PORT.")
    var port: Int?

    @Flag(help: "Seed demo lines and balances (idempotent: running it again adds nothing).")
    var demo = false

    @Flag(help: "Apply pending migrations on PostgreSQL too (SQLite is always migrated).")
    var migrate = false

    @Option(help: "Write the first-run admin API key to this file (mode 0600) as well as printing it. Env: RECHARGE_ADMIN_KEY_FILE.")
    var adminKeyFile: String?

    @Flag(help: "Do not run the outbox delivery service in this process (another node delivers); notifications are still queued.")
    var noDelivery = false

    @Flag(help: "Do not run the validity-reminder scan in this process (also off with --no-delivery).")
    var noReminders = false

    @Option(help: "Seconds between validity-reminder scans. Env: RECHARGE_REMINDER_INTERVAL.")
    var reminderInterval: Int?

    @Flag(inversion: .prefixedNo,
          help: "Offer the built-in sandbox payment provider: test payments that move no money (off by default; on with --demo unless --no-sandbox). Env: RECHARGE_SANDBOX=on|off.")
    var sandbox: Bool?

    @Option(help: "Secret that signs sandbox payment notifications, so they can also be sent with curl (default: random per process). Env: RECHARGE_SANDBOX_SECRET.")
    var sandboxSecret: String?

    @Option(help: "Offer bank transfer into this account (IBAN, or account and routing number). Env: RECHARGE_BANK_ACCOUNT.")
    var bankAccount: String?

    @Option(help: "Holder of the bank-transfer account. Env: RECHARGE_BANK_HOLDER.")
    var bankHolder: String?

    @Option(help: "Name of the bank, shown to payers. Env: RECHARGE_BANK_NAME.")
    var bankName: String?

    @Option(help: "Stripe secret API key (sk_…): offers Stripe for new orders. Env: RECHARGE_STRIPE_SECRET_KEY.")
    var stripeSecretKey: String?

    @Option(help: "Stripe webhook endpoint secret (whsec_…) for POST /webhooks/stripe. Env: RECHARGE_STRIPE_WEBHOOK_SECRET.")
    var stripeWebhookSecret: String?

    // Named explicitly: ArgumentParser would make `--stripe-apiurl` of the property's name, not the documented flag.
    @Option(name: .customLong("stripe-api-url"), help: "Stripe API base URL (default https://api.stripe.com; a localstripe URL in tests). Env: RECHARGE_STRIPE_API_URL.")
    var stripeAPIURL: String?

    @Flag(help: "Do not run the order reconciliation job (expiry of unpaid orders, fulfilment of paid ones) in this process.")
    var noReconciliation = false

    @Option(help: "trace, debug, info, notice, warning, error or critical. Env: RECHARGE_LOG_LEVEL.")
    var logLevel: String?

    @Option(help: "Seconds a new connection has to send a complete request head (default 10). Env: RECHARGE_HEADER_TIMEOUT.")
    var headerTimeout: Int?

    @Option(help: "Seconds an open connection may sit idle before it is closed (default 60). Env: RECHARGE_IDLE_TIMEOUT.")
    var idleTimeout: Int?

    @Option(help: "Connections open at once; more wait in the listen backlog (default 1024). Env: RECHARGE_MAX_CONNECTIONS.")
    var maxConnections: Int?

    @Option(help: "Serve /metrics on this port only (same host), not on the public one. Env: RECHARGE_METRICS_PORT.")
    var metricsPort: Int?

    @Flag(help: "Offer the /dev pages (the rendered outbox, one-time codes masked) without --demo. Env: RECHARGE_DEV_PAGES=on.")
    var devPages = false

    @Option(help: "Serve Diameter Gy (online charging) on this TCP port, e.g. 3868; off when not given. Env: RECHARGE_DIAMETER_PORT.")
    var diameterPort: Int?

    @Option(help: "Address the Diameter listener binds (default 127.0.0.1: a gateway on another host needs a private address here). Env: RECHARGE_DIAMETER_HOST.")
    var diameterHost: String?

    @Option(help: "Origin-Host of this OCS (default ocs.recharge.local). Env: RECHARGE_DIAMETER_ORIGIN_HOST.")
    var diameterOriginHost: String?

    @Option(help: "Origin-Realm of this OCS (default recharge.local). Env: RECHARGE_DIAMETER_REALM.")
    var diameterRealm: String?

    @Option(help: "Comma-separated Origin-Hosts of the gateways allowed to charge (default: any peer that completes CER). Env: RECHARGE_DIAMETER_PEERS.")
    var diameterPeers: String?

    @Option(help: "URL a final unit redirects subscribers to (the recharge page); without it the final unit terminates. Env: RECHARGE_RECHARGE_URL.")
    var rechargeURL: String?

    func run() async throws {
        try await reportingErrors {
            let environment = ProcessInfo.processInfo.environment
            let level = logLevel ?? environment["RECHARGE_LOG_LEVEL"] ?? "info"
            guard let parsedLevel = Logger.Level(rawValue: level) else { throw CLIError("unknown log level '\(level)'") }
            // Every logger of the process honours the level (the database's, PostgresNIO's, the dev inbox's …), not
            // only this one: each is made by this factory.
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = parsedLevel
                return handler
            }
            let logger = Logger(label: "recharge")
            let configuration = ServerConfiguration(
                hostname: hostname ?? environment["RECHARGE_HOST"] ?? "127.0.0.1",
                port: try Self.setting(port, environment, "RECHARGE_PORT", "a port number", 0...65535) ?? 8080,
                limits: ConnectionLimits(
                    headerTimeout: try Self.setting(headerTimeout, environment, "RECHARGE_HEADER_TIMEOUT", "seconds", 1...3600).map { .seconds($0) }
                        ?? ConnectionLimits.defaultHeaderTimeout,
                    idleTimeout: try Self.setting(idleTimeout, environment, "RECHARGE_IDLE_TIMEOUT", "seconds", 1...86_400).map { .seconds($0) }
                        ?? ConnectionLimits.defaultIdleTimeout,
                    maximumConnections: try Self.setting(maxConnections, environment, "RECHARGE_MAX_CONNECTIONS", "a number of connections", 1...1_000_000)
                        ?? ConnectionLimits.defaultMaximumConnections),
                metricsPort: try Self.setting(metricsPort, environment, "RECHARGE_METRICS_PORT", "a port number", 1...65535))
            if let metrics = configuration.metricsPort, metrics == configuration.port { throw CLIError("--metrics-port must differ from --port") }
            let devPagesOn = demo || devPages || environment["RECHARGE_DEV_PAGES"] == "on"
            let interval = try Self.setting(reminderInterval, environment, "RECHARGE_REMINDER_INTERVAL", "seconds", 1...86_400) ?? 300
            // Settled before the database is opened: a refused setting must not leave it open.
            let sandboxSwitch = try SandboxSwitch(flag: sandbox, environment: environment["RECHARGE_SANDBOX"], demo: demo)
            let voucherGuessing = try VoucherCommand.guessingPolicy(environment: environment)
            let secret = sandboxSecret ?? environment["RECHARGE_SANDBOX_SECRET"]
            if let secret, secret.utf8.count < 16 { throw CLIError("the sandbox secret must be at least 16 bytes") }
            let bank = (bankAccount ?? environment["RECHARGE_BANK_ACCOUNT"]).map { account in
                BankTransferAccount(holder: bankHolder ?? environment["RECHARGE_BANK_HOLDER"] ?? "Recharge", account: account,
                                    bank: bankName ?? environment["RECHARGE_BANK_NAME"])
            }
            var stripe: StripeGateway?
            let httpClient = HTTPClient.shared   // process-wide; never shut down
            if let webhookSecret = stripeWebhookSecret ?? environment["RECHARGE_STRIPE_WEBHOOK_SECRET"] {
                let client = (stripeSecretKey ?? environment["RECHARGE_STRIPE_SECRET_KEY"]).map { key in
                    StripeClient(configuration: .init(secretKey: key, baseURL: stripeAPIURL ?? environment["RECHARGE_STRIPE_API_URL"] ?? "https://api.stripe.com"),
                                 httpClient: httpClient)
                }
                stripe = StripeGateway(webhookSecret: webhookSecret, client: client, publicURL: environment["RECHARGE_PUBLIC_URL"])
            } else if stripeSecretKey ?? environment["RECHARGE_STRIPE_SECRET_KEY"] != nil {
                throw CLIError("Stripe needs its webhook secret too (--stripe-webhook-secret): orders are fulfilled only from verified notifications")
            }
            let wallets = try WalletConfiguration.load(environment, httpClient: httpClient)
            let paypal = try PayPalConfiguration.load(environment, httpClient: httpClient)
            let voucherPreviousKeys = try VoucherCommand.previousKeys(environment: environment)
            let voucherApproval = try VoucherCommand.approvalPolicy(environment: environment)
            let portal = try Self.portalConfiguration(environment, demo: demo)
            // Every setting is read before the database is opened: a refused one stops the start with its one-line
            // error and leaves nothing open. The voucher key may live beside the SQLite file, so it comes after.
            // PostgreSQL is not contacted yet: a node restarted while it is down still starts, answers 503 and
            // prepares the database in the background (DatabaseStartup) once it is back.
            let db = try await self.database.connect()
            let voucherKey: VoucherKey?
            do {
                voucherKey = try VoucherCommand.serverKey(environment: environment, location: db.location, logger: logger)
            } catch {
                await db.close()
                throw error
            }
            let gate = StartupGate(ready: false)
            let services = RechargeServices(
                database: db, payments: PaymentProviders(sandbox: sandboxSwitch.gateway(secret: secret), stripe: stripe, bankAccount: bank,
                                                         alipay: wallets.alipay, wechatPay: wallets.wechatPay, paypal: paypal),
                voucherKey: voucherKey, voucherPreviousKeys: voucherPreviousKeys, voucherApproval: voucherApproval,
                voucherGuessing: voucherGuessing, voucherLogger: logger,
                portal: portal, devPages: devPagesOn, startup: gate)
            if devPagesOn {
                logger.warning("The /dev pages are on (--demo or --dev-pages): operator pages outside the API. Never in production.")
            }
            logger.info("Payment methods", metadata: ["offered": "\(services.payments.offered.map(\.rawValue).joined(separator: ", "))"])
            if let warning = sandboxSwitch.startWarning { logger.warning("\(warning)") }
            let (demo, migrate, port) = (self.demo, self.migrate, configuration.port)
            let keyFile = adminKeyFile ?? environment["RECHARGE_ADMIN_KEY_FILE"]
            /// The start's own use of the database: the schema, the first admin key, the demo data. Each step is
            /// idempotent, so it can be run again after an outage cut it short.
            let startLogger = logger
            let prepare: @Sendable () async throws -> Void = {
                let logger = startLogger
                try await DatabaseOptions.prepareSchema(db, migrate: migrate)
                logger.info("Database ready", metadata: ["database": "\(db.location)", "schema": "\(Migrations.latestVersion)"])
                try await FirstRun.printAdminKeyIfNone(services: services, port: port, keyFile: keyFile)
                if demo {
                    let seeded = try await DemoData.seed(services.ledger, now: Date())
                    logger.info("Demo data ready", metadata: ["lines": "\(seeded.map(\.e164).joined(separator: ", "))"])
                    if try await services.catalog.catalog().products.isEmpty {
                        let summary = try await services.catalog.importCatalog(try CatalogFile.parse(try CatalogFile.demoText()), now: Date())
                        logger.info("Demo catalog imported", metadata: ["products": "\(summary.added)"])
                    }
                }
            }
            var waitForDatabase = false
            do {
                try await prepare()
                gate.open()
            } catch let error where db.dialect == .postgres && DatabaseError.isUnavailable(error) {
                logger.warning("PostgreSQL is not reachable: listening anyway, answering 503 until it is", metadata: ["reason": "\(error)"])
                waitForDatabase = true
            } catch {
                await db.close()
                throw error
            }
            let app = buildApplication(configuration, services: services, logger: logger)
            var running: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: app)]
            if waitForDatabase {
                // Returns once the database is prepared; the others go on running.
                running.append(.init(service: DatabaseStartup(gate: gate, logger: logger, prepare: prepare), successTerminationBehavior: .ignore))
            }
            if let metricsPort = configuration.metricsPort {
                running.append(.init(service: buildMetricsApplication(configuration, port: metricsPort, services: services, logger: logger)))
                logger.info("Metrics on their own listener", metadata: ["address": "\(configuration.hostname):\(metricsPort)"])
            }
            if noDelivery {
                logger.notice("Outbox delivery is off in this process (--no-delivery): notifications are queued for another node")
            } else {
                do {
                    running.append(.init(service: AfterStartup(try DeliverySetup.make(environment: environment, database: db, logger: logger, showCodes: demo), gate: gate)))
                } catch {
                    await db.close()
                    throw error
                }
            }
            if noDelivery || noReminders {
                logger.notice("Validity reminders are off in this process: another node scans for them")
            } else {
                running.append(.init(service: AfterStartup(ReminderService(
                    store: ReminderStore(database: db), renewals: services.renewals, accounts: services.accounts,
                    configuration: .init(interval: .seconds(interval)),
                    logger: logger), gate: gate)))
            }
            if noReconciliation {
                logger.notice("Order reconciliation is off in this process: another node runs it")
            } else {
                running.append(.init(service: AfterStartup(OrderReconciliationService(orders: services.orders, payments: services.payments, logger: logger), gate: gate)))
            }
            // Charging: Diameter Gy when a port is given; expiry of silent sessions' reservations, and the re-auths a recharge
            // queues (HTTP callbacks; Diameter RARs from the node holding the peer's connection).
            var reAuthSenders: [String: any ChargingReAuthSender] = ["http": HTTPReAuthSender()]
            if let gy = try diameter(environment: environment, services: services, logger: logger) {
                running.append(.init(service: AfterStartup(DiameterService(server: gy.server), gate: gate)))
                reAuthSenders["diameter"] = DiameterReAuthSender(server: gy.server, peers: gy.peers)
            }
            running.append(.init(service: AfterStartup(ChargingHousekeepingService(
                store: services.charging, senders: reAuthSenders, logger: logger), gate: gate)))
            // The HTTP server, the outbox delivery and the reminder scan run side by side and stop together on SIGTERM/SIGINT.
            let group = ServiceGroup(configuration: .init(services: running, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            do {
                try await group.run()
            } catch {
                await db.close()
                throw error
            }
            await db.close()
        }
    }
}

extension Serve {
    /// The Diameter Gy listener, when `--diameter-port` (or RECHARGE_DIAMETER_PORT) asks for one.
    func diameter(environment: [String: String], services: RechargeServices, logger: Logger) throws -> (server: DiameterServer, peers: DiameterPeerRealms)? {
        guard let port = try Self.setting(diameterPort, environment, "RECHARGE_DIAMETER_PORT", "a port number", 0...65535) else { return nil }
        let host = diameterHost ?? environment["RECHARGE_DIAMETER_HOST"] ?? "127.0.0.1"
        let address = DiameterAddress(ipv4: host == "0.0.0.0" ? "127.0.0.1" : host) ?? DiameterAddress(ipv4: "127.0.0.1")!
        let identity = DiameterIdentity(
            originHost: diameterOriginHost ?? environment["RECHARGE_DIAMETER_ORIGIN_HOST"] ?? "ocs.recharge.local",
            originRealm: diameterRealm ?? environment["RECHARGE_DIAMETER_REALM"] ?? "recharge.local", hostIPAddresses: [address],
            vendorID: 0, productName: "Recharge", originStateID: UInt32(truncatingIfNeeded: Int(Date().timeIntervalSince1970)))
        let allowed = Set((diameterPeers ?? environment["RECHARGE_DIAMETER_PEERS"] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty })
        let redirect = rechargeURL ?? environment["RECHARGE_RECHARGE_URL"]
        if let redirect, URL(string: redirect)?.scheme == nil { throw CLIError("--recharge-url must be a URL such as https://recharge.example/recharge") }
        let peers = DiameterPeerRealms()
        let handler = GyCreditControl(charging: services.charging, clock: services.clock, redirectURL: redirect, allowedPeers: allowed, peers: peers,
                                      logger: Logger(label: "recharge.gy"))
        let server = DiameterServer(configuration: DiameterServerConfiguration(host: host, port: port, identity: identity), handler: handler,
                                    logger: Logger(label: "recharge.diameter"))
        if allowed.isEmpty { logger.notice("Diameter Gy on \(host):\(port) accepts any peer that completes CER: set --diameter-peers to allow only your gateways") }
        return (server, peers)
    }
}

enum FirstRun {
    /// On a database without an active admin key, creates one and prints it with a curl example. It is
    /// printed this once: only its hash is stored.
    static func printAdminKeyIfNone(services: RechargeServices, port: Int, keyFile: String?) async throws {
        guard try await !services.apiKeys.hasActiveAdminKey() else { return }
        let (_, secret) = try await services.apiKeys.create(name: "first-run admin", scope: .admin, now: Date())
        if let keyFile {
            guard FileManager.default.createFile(atPath: keyFile, contents: Data((secret + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
                throw CLIError("cannot write the admin key to '\(keyFile)'")
            }
        }
        // Written straight to the file descriptor: stdout is block-buffered when it is a file or a pipe, and the
        // key must reach the log now, not at exit.
        FileHandle.standardOutput.write(Data("""

        ┌─ First run: an admin API key was created. It is shown only now; keep it safe. ─┐
          \(secret)

          Try it:
            export RECHARGE_KEY=\(secret)
            curl -s localhost:\(port)/v1/lines/+14155550100/balance -H "Authorization: Bearer $RECHARGE_KEY"
          (start with --demo to have that line; more keys: recharge apikey create --name NAME --scope write)
        └────────────────────────────────────────────────────────────────────────────────┘


        """.utf8))
    }
}

/// Alipay and WeChat Pay, from the environment (keys come from files, never from the command line).
enum WalletConfiguration {
    static func load(_ environment: [String: String], httpClient: HTTPClient) throws -> (alipay: AlipayGateway?, wechatPay: WeChatPayGateway?) {
        func file(_ name: String) throws -> String? {
            guard let path = environment[name] else { return nil }
            guard let data = FileManager.default.contents(atPath: path) else { throw CLIError("\(name): cannot read '\(path)'") }
            return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        // Where providers send notifications: this server's public address.
        let publicURL = environment["RECHARGE_PUBLIC_URL"]
        var alipay: AlipayGateway?
        if let appID = environment["RECHARGE_ALIPAY_APP_ID"] {
            guard let key = try file("RECHARGE_ALIPAY_PUBLIC_KEY_FILE") else {
                throw CLIError("RECHARGE_ALIPAY_APP_ID needs RECHARGE_ALIPAY_PUBLIC_KEY_FILE (Alipay's public key, to verify notifications)")
            }
            var client: AlipayClient?
            if let merchantKey = try file("RECHARGE_ALIPAY_PRIVATE_KEY_FILE") {
                guard let publicURL else { throw CLIError("the Alipay client needs RECHARGE_PUBLIC_URL (for its notify_url)") }
                client = AlipayClient(configuration: try .init(
                    appID: appID, merchantPrivateKeyPEM: merchantKey, alipayPublicKeyPEM: key, notifyURL: publicURL + "/webhooks/alipay",
                    gatewayURL: environment["RECHARGE_ALIPAY_GATEWAY"] ?? "https://openapi.alipay.com/gateway.do"), httpClient: httpClient)
            }
            alipay = try AlipayGateway(appID: appID, sellerID: environment["RECHARGE_ALIPAY_SELLER_ID"], alipayPublicKey: key, client: client,
                                       notifyMaxAge: try AlipayGateway.notifyMaxAge(setting: environment["RECHARGE_ALIPAY_NOTIFY_MAX_AGE"]))
        }
        var wechat: WeChatPayGateway?
        if let mchID = environment["RECHARGE_WECHAT_MCHID"] {
            guard let appID = environment["RECHARGE_WECHAT_APPID"], let serial = environment["RECHARGE_WECHAT_PLATFORM_SERIAL"],
                  let platformKey = try file("RECHARGE_WECHAT_PLATFORM_KEY_FILE"), let apiV3Key = try file("RECHARGE_WECHAT_APIV3_KEY_FILE")
            else {
                throw CLIError("RECHARGE_WECHAT_MCHID needs RECHARGE_WECHAT_APPID, RECHARGE_WECHAT_PLATFORM_SERIAL, RECHARGE_WECHAT_PLATFORM_KEY_FILE and RECHARGE_WECHAT_APIV3_KEY_FILE")
            }
            var client: WeChatPayClient?
            if let merchantKey = try file("RECHARGE_WECHAT_MERCHANT_KEY_FILE") {
                guard let merchantSerial = environment["RECHARGE_WECHAT_MERCHANT_SERIAL"], let publicURL else {
                    throw CLIError("the WeChat Pay client needs RECHARGE_WECHAT_MERCHANT_SERIAL and RECHARGE_PUBLIC_URL")
                }
                client = WeChatPayClient(configuration: .init(
                    mchID: mchID, appID: appID, merchantSerialNo: merchantSerial,
                    merchantPrivateKey: try ProviderRSAKey.privateKey(merchantKey, provider: .wechatPay),
                    platformKeys: [serial: try ProviderRSAKey.publicKey(platformKey, provider: .wechatPay)], notifyURL: publicURL + "/webhooks/wechat_pay",
                    baseURL: environment["RECHARGE_WECHAT_API_URL"] ?? "https://api.mch.weixin.qq.com"), httpClient: httpClient)
            }
            wechat = try WeChatPayGateway(mchID: mchID, appID: appID, platformKeys: [serial: platformKey], apiV3Key: apiV3Key, client: client)
        }
        return (alipay, wechat)
    }
}

/// PayPal, from the environment: the REST app's client id and secret, the webhook's id, and how webhooks are
/// verified (locally against the trust roots by default, or by PayPal's verify API).
enum PayPalConfiguration {
    static func load(_ environment: [String: String], httpClient: HTTPClient) throws -> PayPalGateway? {
        guard let clientID = environment["RECHARGE_PAYPAL_CLIENT_ID"] else { return nil }
        guard let secret = environment["RECHARGE_PAYPAL_CLIENT_SECRET"], let webhookID = environment["RECHARGE_PAYPAL_WEBHOOK_ID"],
              let publicURL = environment["RECHARGE_PUBLIC_URL"]
        else {
            throw CLIError("RECHARGE_PAYPAL_CLIENT_ID needs RECHARGE_PAYPAL_CLIENT_SECRET, RECHARGE_PAYPAL_WEBHOOK_ID and RECHARGE_PUBLIC_URL")
        }
        var baseURL = environment["RECHARGE_PAYPAL_API_URL"] ?? PayPalClient.Configuration.liveURL
        if baseURL == "sandbox" { baseURL = PayPalClient.Configuration.sandboxURL }
        let configuration = PayPalClient.Configuration(clientID: clientID, clientSecret: secret, baseURL: baseURL,
                                                       brandName: environment["RECHARGE_PAYPAL_BRAND_NAME"])
        let client = PayPalClient(configuration: configuration, httpClient: httpClient)
        let verification: PayPalGateway.Verification
        switch environment["RECHARGE_PAYPAL_WEBHOOK_VERIFY"] ?? "local" {
        case "api":
            verification = .api(toleranceSeconds: PayPalWebhookVerifier.defaultToleranceSeconds)
        case "local":
            do {
                verification = .local(PayPalWebhookVerifier(
                    webhookID: webhookID, trustRoots: try PayPalWebhookVerifier.trustRoots(file: environment["RECHARGE_PAYPAL_CERT_ROOTS_FILE"]),
                    // PayPal's certificate hosts are always allowed; besides them only the API's own origin (a stand-in gateway's).
                    extraCertificateOrigins: Set([configuration.origin].compactMap { $0 }),
                    fetch: PayPalWebhookVerifier.fetcher(httpClient: httpClient)))
            } catch {
                throw CLIError("PayPal webhook trust roots: \(error)")
            }
        case let other:
            throw CLIError("RECHARGE_PAYPAL_WEBHOOK_VERIFY must be local or api, not '\(other)'")
        }
        return PayPalGateway(client: client, webhookID: webhookID, verification: verification, publicURL: publicURL)
    }
}

extension Serve {
    /// A whole-number setting: the flag, else the environment variable, else nil (the default applies).
    static func setting(_ flag: Int?, _ environment: [String: String], _ name: String, _ what: String, _ range: ClosedRange<Int>) throws -> Int? {
        if let flag {
            let option = "--" + name.dropFirst("RECHARGE_".count).lowercased().replacingOccurrences(of: "_", with: "-")
            guard range.contains(flag) else { throw CLIError("\(option) \(flag) is not \(what) from \(range.lowerBound) to \(range.upperBound)") }
            return flag
        }
        guard let text = environment[name] else { return nil }
        guard let value = Int(text), range.contains(value) else { throw CLIError("\(name) '\(text)' is not \(what) from \(range.lowerBound) to \(range.upperBound)") }
        return value
    }

    /// `RECHARGE_PORTAL_INSECURE_COOKIES=1` drops `Secure` from the portal's cookies (plain http on a host other
    /// than localhost); `RECHARGE_PORTAL_BCRYPT_COST` (4–31, default 12). One-time codes are written to the log
    /// only in `--demo` mode (and only while no SMPP server takes SMS): a log is read by more people than a phone.
    static func portalConfiguration(_ environment: [String: String], demo: Bool) throws -> PortalConfiguration {
        var portal = PortalConfiguration()
        portal.secureCookies = environment["RECHARGE_PORTAL_INSECURE_COOKIES"].map { $0 != "1" && $0.lowercased() != "true" } ?? true
        if let text = environment["RECHARGE_PORTAL_BCRYPT_COST"] {
            guard let cost = UInt8(text), (4...31).contains(cost) else { throw CLIError("RECHARGE_PORTAL_BCRYPT_COST must be a whole number from 4 to 31, not '\(text)'") }
            portal.bcryptCost = cost
        }
        portal.logCodes = demo && (environment["RECHARGE_SMPP_URL"] ?? "").isEmpty
        // The portal's abuse limits: bcrypt queue, SMS destinations and budgets, lockouts, trusted proxies.
        do {
            return try portal.applying(environment: environment)
        } catch {
            throw CLIError(String(describing: error))
        }
    }
}
