import Foundation
import Hummingbird
import Logging
import Prometheus
import RechargeCore
import RechargeNotifications
import RechargeOrders
import RechargeStore

/// Where the HTTP server listens, and what one client may hold of it.
public struct ServerConfiguration: Sendable {
    public var hostname: String
    public var port: Int
    /// Header and idle timeouts and the cap on open connections.
    public var limits: ConnectionLimits
    /// Serve `/metrics` on a listener of its own at this port (same host), and not on the public one.
    public var metricsPort: Int?

    public init(hostname: String = "127.0.0.1", port: Int = 8080, limits: ConnectionLimits = ConnectionLimits(), metricsPort: Int? = nil) {
        self.hostname = hostname
        self.port = port
        self.limits = limits
        self.metricsPort = metricsPort
    }
}

/// Everything the HTTP layer needs, built once by the caller (the CLI or a test) and injected.
public struct RechargeServices: Sendable {
    public let database: Database
    public let ledger: LedgerStore
    /// The online charging system's store: sessions, reservations, rated usage.
    public let charging: ChargingStore
    public let apiKeys: APIKeyStore
    public let outbox: OutboxStore
    public let notificationPreferences: NotificationPreferencesStore
    public let catalog: CatalogStore
    public let orders: OrderStore
    /// Placement, confirmation, fulfilment, expiry, refunds and disputes of orders, on ``orders``.
    public let orderService: OrderService
    /// Packs marked to renew, bought again from the balance at the end of each period.
    public let renewals: PackRenewalStore
    /// Subscribers' portal accounts: passwords, sessions, one-time codes, the lines each holds.
    public let accounts: AccountStore
    /// The quick-recharge page's eligibility check and request counters (guests' orders go through `orderService`).
    public let guests: GuestRechargeStore
    /// Cookies, bcrypt cost and code logging of the web portal.
    public let portal: PortalConfiguration
    /// Every bcrypt hash and check of the portal, bounded by ``PortalConfiguration/bcryptConcurrency``.
    public let passwords: BcryptQueue
    /// Scratch-card vouchers; nil when no voucher key is configured.
    public let vouchers: VoucherStore?
    /// The payment methods offered (none by default: the sandbox too only when the caller passes it).
    public let payments: PaymentProviders
    /// Renders outbox rows on the operator pages; nil if the bundled templates could not be loaded.
    public let renderer: NotificationRenderer?
    public let metrics: PrometheusCollectorRegistry
    /// The time source of every request; tests set it.
    public let clock: @Sendable () -> Date
    /// Whether the `/dev` pages (the rendered outbox, with codes) exist: only with `--demo` or `--dev-pages`.
    public let devPages: Bool
    /// Closed while a node that started during a database outage waits for the database (503 meanwhile).
    public let startup: StartupGate

    public init(
        database: Database, metrics: PrometheusCollectorRegistry = .init(), apiKeyCacheLifetime: Duration = .seconds(1),
        clock: @escaping @Sendable () -> Date = { Date() }, renderer: NotificationRenderer? = try? NotificationRenderer.bundled(),
        payments: PaymentProviders = PaymentProviders(sandbox: nil), voucherKey: VoucherKey? = nil, voucherPreviousKeys: [VoucherKey] = [],
        voucherApproval: VoucherApprovalPolicy = VoucherApprovalPolicy(threshold: VoucherApprovalPolicy.defaultThreshold),
        voucherGuessing: VoucherGuessingPolicy = VoucherGuessingPolicy(),
        voucherLogger: Logger = Logger(label: "recharge.vouchers"), portal: PortalConfiguration = PortalConfiguration(),
        devPages: Bool = false, startup: StartupGate = StartupGate()
    ) {
        self.devPages = devPages
        self.startup = startup
        self.database = database
        self.ledger = LedgerStore(database: database)
        self.apiKeys = APIKeyStore(database: database, cacheLifetime: apiKeyCacheLifetime)
        self.outbox = OutboxStore(database: database)
        self.notificationPreferences = NotificationPreferencesStore(database: database)
        self.catalog = CatalogStore(database: database)
        self.charging = ChargingStore(database: database, catalogs: self.catalog)
        self.orders = OrderStore(database: database, catalog: self.catalog)
        self.orderService = OrderService(store: self.orders, clock: clock)
        self.renewals = PackRenewalStore(database: database, catalog: self.catalog)
        self.accounts = AccountStore(database: database)
        self.guests = GuestRechargeStore(database: database, catalog: self.catalog)
        self.portal = portal
        self.passwords = BcryptQueue(concurrency: portal.bcryptConcurrency, waiting: portal.bcryptWaiting)
        let ledger = self.ledger
        self.vouchers = voucherKey.map { VoucherStore(database: database, key: $0, previousKeys: voucherPreviousKeys, ledger: ledger, guessing: voucherGuessing,
                                                           approval: voucherApproval, logger: voucherLogger) }
        self.payments = payments
        self.renderer = renderer
        self.metrics = metrics
        self.clock = clock
    }
}

/// The router with every route and middleware; what tests drive without a socket. `metrics` puts `/metrics` on
/// it (off when a separate metrics listener serves it).
public func buildRouter(_ services: RechargeServices, metrics: Bool = true, logger: Logger = Logger(label: "recharge.portal")) -> Router<RechargeRequestContext> {
    let router = Router(context: RechargeRequestContext.self)
    let routeTable = RouteTable()
    router.add(middleware: HTTPMetricsMiddleware(registry: services.metrics))
    router.add(middleware: ProblemMiddleware(routes: routeTable))
    router.add(middleware: StartupMiddleware(gate: services.startup))
    SystemController(services: services).addRoutes(to: router, metrics: metrics)
    let v1 = router.group("v1").add(middleware: APIKeyAuthenticator(keys: services.apiKeys))
    LinesController(ledger: services.ledger, orders: services.orders, clock: services.clock).addRoutes(to: v1)
    NotificationPreferencesController(store: services.notificationPreferences, clock: services.clock).addRoutes(to: v1)
    let dev = services.devPages ? router.group("dev").add(middleware: APIKeyAuthenticator(keys: services.apiKeys)) : nil
    let resources = Result { () throws -> PortalResources in try PortalResources.bundled() }
    OutboxController(outbox: services.outbox, renderer: services.renderer, page: try? OutboxPage.bundledTemplate()).addRoutes(v1: v1, dev: dev)
    OrdersController(catalog: services.catalog, orders: services.orders, service: services.orderService, renewals: services.renewals, payments: services.payments,
                     clock: services.clock, receiptPage: (try? resources.get()).map(ReceiptPage.init)).addRoutes(to: v1)
    PaymentWebhooksController(orders: services.orderService, payments: services.payments, pages: (try? resources.get()).map(PaymentPages.init),
                              clock: services.clock).addRoutes(to: router)
    VouchersController(vouchers: services.vouchers, clock: services.clock).addRoutes(to: v1)
    ChargingController(charging: services.charging, catalog: services.catalog, clock: services.clock).addRoutes(to: v1)
    CDRController(store: CDRImportStore(database: services.database, catalogs: services.catalog), clock: services.clock).addRoutes(to: v1)
    // The subscriber portal (HTML pages at the root); without its bundled templates the API still runs.
    do {
        PortalController(services: services, resources: try resources.get(), configuration: services.portal, logger: logger).addRoutes(to: router)
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
        router: buildRouter(services, metrics: configuration.metricsPort == nil, logger: logger),
        server: configuration.limits.http1Server(),
        configuration: .init(address: .hostname(configuration.hostname, port: configuration.port), serverName: "Recharge",
                             availableConnectionsDelegate: ConnectionCap(maximum: configuration.limits.maximumConnections, logger: logger)),
        logger: logger
    )
}

/// The listener of `/metrics` alone (`--metrics-port`): Prometheus scrapes it without authentication, by
/// convention, so an operator binds it where only the scraper reaches, apart from the public API and portal.
public func buildMetricsApplication(
    _ configuration: ServerConfiguration, port: Int, services: RechargeServices, logger: Logger = Logger(label: "recharge.metrics")
) -> some ApplicationProtocol {
    let router = Router(context: RechargeRequestContext.self)
    SystemController(services: services).addMetricsRoute(to: router)
    var limits = configuration.limits
    limits.maximumConnections = min(limits.maximumConnections, 64)
    return Application(
        router: router,
        server: limits.http1Server(),
        configuration: .init(address: .hostname(configuration.hostname, port: port), serverName: "Recharge metrics",
                             availableConnectionsDelegate: ConnectionCap(maximum: limits.maximumConnections, logger: logger)),
        logger: logger
    )
}
