// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "Recharge",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "recharge", targets: ["recharge"]),
        .library(name: "RechargeCore", targets: ["RechargeCore"]),
        .library(name: "RechargeStore", targets: ["RechargeStore"]),
        .library(name: "RechargeServer", targets: ["RechargeServer"]),
        .library(name: "RechargeOrders", targets: ["RechargeOrders"]),
        .library(name: "RechargeMessaging", targets: ["RechargeMessaging"]),
        .library(name: "RechargeNotifications", targets: ["RechargeNotifications"]),
        .library(name: "RechargeQR", targets: ["RechargeQR"]),
        .library(name: "RechargeDiameter", targets: ["RechargeDiameter"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/vapor/sql-kit", from: "3.36.0"),
        .package(url: "https://github.com/vapor/sqlite-kit", from: "4.5.2"),
        .package(url: "https://github.com/vapor/postgres-kit", from: "2.17.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
    ],
    targets: [
        // Pure domain: no I/O, Foundation only.
        .target(name: "RechargeCore"),
        // SQL persistence written once with SQLKit, for SQLite and PostgreSQL.
        .target(
            name: "RechargeStore",
            dependencies: [
                "RechargeCore",
                "RechargeBanking",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "SQLiteKit", package: "sqlite-kit"),
                .product(name: "PostgresKit", package: "postgres-kit"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // The order capability: OrderService (placement, confirmation, fulfilment, expiry, refunds, disputes) over
        // RechargeStore, every transition through OrderLifecycle. No HTTP, no provider protocol.
        .target(name: "RechargeOrders", dependencies: ["RechargeCore", "RechargeStore"]),
        // Hummingbird application: JSON API, problem+json errors, metrics, OpenAPI document.
        .target(
            name: "RechargeServer",
            dependencies: [
                "RechargeCore",
                "RechargeStore",
                "RechargeOrders",
                "RechargeNotifications",
                "RechargePayments",
                "RechargeBanking",
                "RechargeQR",
                "RechargeDiameter",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            resources: [.copy("Resources/openapi.json"), .copy("Resources/demo-catalog.yaml"), .copy("Resources/portal")]
        ),
        // QR Code encoder (ISO/IEC 18004: byte mode, levels L/M/Q/H, versions 1–40) with SVG and PNG output.
        // Foundation only; imports no project module.
        .target(name: "RechargeQR"),
        // Bank transfers: RF creditor references, camt.053 and CSV statement import, matching to orders. No I/O.
        .target(name: "RechargeBanking", dependencies: ["RechargeCore"]),
        // Protocol clients for notifications: SMTP (email) and SMPP 3.4 (SMS) on SwiftNIO. No store, no server.
        .target(
            name: "RechargeMessaging",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Diameter Gy for online charging (RFC 6733 base, RFC 4006 credit control, 3GPP TS 32.299 AVPs) on SwiftNIO:
        // codec, AVP dictionary as data, typed CCR/CCA/RAR, the peer state machine, server and client. Imports no
        // project module; the charging engine plugs in through CreditControlHandler.
        .target(
            name: "RechargeDiameter",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Outbox delivery: Mustache templates per event and language, rendering, and the DeliveryService that
        // claims outbox rows and sends them by SMPP, SMTP or the dev inbox.
        .target(
            name: "RechargeNotifications",
            dependencies: [
                "RechargeCore",
                "RechargeStore",
                "RechargeMessaging",
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("Resources/templates"), .copy("Resources/channel")]
        ),
        // Payment providers' own protocols: clients (Stripe, PayPal, Alipay, WeChat Pay) and notification
        // signatures (Stripe-Signature, PayPal's certificate-signed webhooks, Alipay RSA2, WeChat Pay API v3),
        // verified on raw bytes; one PaymentGateway adapter per provider and their registry. No store, no server.
        .target(
            name: "RechargePayments",
            dependencies: [
                "RechargeCore",
                "RechargeBanking",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),
        .executableTarget(
            name: "recharge",
            dependencies: [
                "RechargeCore",
                "RechargeStore",
                "RechargeServer",
                "RechargeNotifications",
                "RechargeMessaging",
                "RechargeBanking",
                "RechargePayments",
                "RechargeQR",
                "RechargeDiameter",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Temporary databases for tests: an SQLite file, or a fresh schema on the PostgreSQL server that
        // scripts/test starts (RECHARGE_TEST_POSTGRES_URL).
        .target(
            name: "RechargeTestSupport",
            dependencies: [
                "RechargeStore", "RechargeCore", .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            path: "Tests/RechargeTestSupport"
        ),
        .testTarget(name: "RechargeCoreTests", dependencies: ["RechargeCore"]),
        .testTarget(name: "RechargeQRTests", dependencies: ["RechargeQR"], resources: [.copy("Fixtures")]),
        .testTarget(
            name: "RechargeBankingTests",
            dependencies: ["RechargeBanking", "RechargeCore"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "RechargeMessagingTests",
            dependencies: [
                "RechargeMessaging",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "RechargeDiameterTests",
            dependencies: [
                "RechargeDiameter",
                "RechargeTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "RechargeNotificationsTests",
            dependencies: [
                "RechargeNotifications",
                "RechargeMessaging",
                "RechargeStore",
                "RechargeCore",
                "RechargeTestSupport",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "RechargePaymentsTests",
            dependencies: [
                "RechargePayments",
                "RechargeTestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        .testTarget(name: "RechargeOrdersTests", dependencies: ["RechargeOrders", "RechargeStore", "RechargeCore", "RechargeTestSupport"]),
        .testTarget(name: "RechargeStoreTests", dependencies: ["RechargeStore", "RechargeCore", "RechargeBanking", "RechargeTestSupport"]),
        .testTarget(
            name: "RechargeServerTests",
            dependencies: [
                "RechargeServer",
                "RechargeDiameter",
                "RechargeStore",
                "RechargeCore",
                "RechargeTestSupport",
                "RechargePayments",
                "RechargeNotifications",
                "RechargeBanking",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ]
)
