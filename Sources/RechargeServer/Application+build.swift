import Foundation
import Hummingbird
import Logging
import Prometheus
import RechargeCore
import RechargeNotifications
import RechargeStore

/// Where the HTTP server listens.
public struct ServerConfiguration: Sendable {
    public var hostname: String
    public var port: Int

    public init(hostname: String = "127.0.0.1", port: Int = 8080) {
        self.hostname = hostname
        self.port = port
    }
}

/// Everything the HTTP layer needs, built once by the caller (the CLI or a test) and injected.
public struct RechargeServices: Sendable {
    public let database: Database
    public let ledger: LedgerStore
    public let apiKeys: APIKeyStore
    public let outbox: OutboxStore
    public let notificationPreferences: NotificationPreferencesStore
    public let catalog: CatalogStore
    public let orders: OrderStore
    /// Packs marked to renew, bought again from the balance at the end of each period.
    public let renewals: PackRenewalStore
    /// Subscribers' portal accounts: passwords, sessions, one-time codes, the lines each holds.
    public let accounts: AccountStore
    /// Cookies, bcrypt cost and code logging of the web portal.
    public let portal: PortalConfiguration
    /// Scratch-card vouchers; nil when no voucher key is configured.
    public let vouchers: VoucherStore?
    /// The payment methods offered (the sandbox by default).
    public let payments: PaymentProviders
    /// Renders outbox rows on the operator pages; nil if the bundled templates could not be loaded.
    public let renderer: NotificationRenderer?
    public let metrics: PrometheusCollectorRegistry
    /// The time source of every request; tests set it.
    public let clock: @Sendable () -> Date

    public init(
        database: Database, metrics: PrometheusCollectorRegistry = .init(), apiKeyCacheLifetime: Duration = .seconds(1),
        clock: @escaping @Sendable () -> Date = { Date() }, renderer: NotificationRenderer? = try? NotificationRenderer.bundled(),
        payments: PaymentProviders = PaymentProviders(sandbox: SandboxGateway()), voucherKey: VoucherKey? = nil, voucherPreviousKeys: [VoucherKey] = [],
        voucherApproval: VoucherApprovalPolicy = VoucherApprovalPolicy(threshold: VoucherApprovalPolicy.defaultThreshold),
        voucherGuessing: VoucherGuessingPolicy = VoucherGuessingPolicy(),
        voucherLogger: Logger = Logger(label: "recharge.vouchers"), portal: PortalConfiguration = PortalConfiguration()
    ) {
        self.database = database
        self.ledger = LedgerStore(database: database)
        self.apiKeys = APIKeyStore(database: database, cacheLifetime: apiKeyCacheLifetime)
        self.outbox = OutboxStore(database: database)
        self.notificationPreferences = NotificationPreferencesStore(database: database)
        self.catalog = CatalogStore(database: database)
        self.orders = OrderStore(database: database, catalog: self.catalog)
        self.renewals = PackRenewalStore(database: database, catalog: self.catalog)
        self.accounts = AccountStore(database: database)
        self.portal = portal
        let ledger = self.ledger
        self.vouchers = voucherKey.map { VoucherStore(database: database, key: $0, previousKeys: voucherPreviousKeys, ledger: ledger, guessing: voucherGuessing,
                                                           approval: voucherApproval, logger: voucherLogger) }
        self.payments = payments
        self.renderer = renderer
        self.metrics = metrics
        self.clock = clock
    }
}

/// The router with every route and middleware; what tests drive without a socket.
public func buildRouter(_ services: RechargeServices, logger: Logger = Logger(label: "recharge.portal")) -> Router<RechargeRequestContext> {
    let router = Router(context: RechargeRequestContext.self)
    let routeTable = RouteTable()
    router.add(middleware: HTTPMetricsMiddleware(registry: services.metrics))
    router.add(middleware: ProblemMiddleware(routes: routeTable))
    SystemController(services: services).addRoutes(to: router)
    let v1 = router.group("v1").add(middleware: APIKeyAuthenticator(keys: services.apiKeys))
    LinesController(ledger: services.ledger, clock: services.clock).addRoutes(to: v1)
    NotificationPreferencesController(store: services.notificationPreferences, clock: services.clock).addRoutes(to: v1)
    let dev = router.group("dev").add(middleware: APIKeyAuthenticator(keys: services.apiKeys))
    OutboxController(outbox: services.outbox, renderer: services.renderer).addRoutes(v1: v1, dev: dev)
    OrdersController(catalog: services.catalog, orders: services.orders, renewals: services.renewals, payments: services.payments,
                     clock: services.clock).addRoutes(to: v1)
    PaymentWebhooksController(orders: services.orders, payments: services.payments, clock: services.clock).addRoutes(to: router)
    VouchersController(vouchers: services.vouchers, clock: services.clock).addRoutes(to: v1)
    // The subscriber portal (HTML pages at the root); without its bundled templates the API still runs.
    do {
        PortalController(services: services, resources: try PortalResources.bundled(), configuration: services.portal, logger: logger).addRoutes(to: router)
    } catch {
        logger.error("The web portal is off: its templates or locale files cannot be loaded", metadata: ["error": "\(error)"])
    }
    routeTable.load(router.routes.map { ("\($0.path)", $0.method.rawValue) })
    return router
}

/// The one application builder, used by `recharge serve` and by the tests.
public func buildApplication(
    _ configuration: ServerConfiguration, services: RechargeServices, logger: Logger = Logger(label: "recharge")
) -> some ApplicationProtocol {
    Application(
        router: buildRouter(services, logger: logger),
        configuration: .init(address: .hostname(configuration.hostname, port: configuration.port), serverName: "Recharge"),
        logger: logger
    )
}
