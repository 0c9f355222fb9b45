import Foundation
import NIOConcurrencyHelpers
import RechargeCore
import SQLKit

/// The operator's catalog: products and the custom top-up ranges, replaced as a whole by an import.
///
/// Orders read the catalog on every quote, so the parsed catalog is cached per import: each import writes a
/// new `version` token, and a reader checks that one small row before reusing what it parsed (several nodes
/// see each other's imports at once).
public final class CatalogStore: Sendable {
    public let database: Database
    private let cache = NIOLockedValueBox<(version: String, catalog: Catalog)?>(nil)

    public init(database: Database) {
        self.database = database
    }

    /// What an import changed.
    public struct ImportSummary: Sendable, Equatable {
        public let added: Int
        public let updated: Int
        /// Products missing from the file: kept (orders refer to them) but no longer sold.
        public let deactivated: Int
    }

    /// Makes `catalog` the catalog: products in it are inserted or replaced, products not in it are deactivated.
    public func importCatalog(_ catalog: Catalog, now: Date) async throws -> ImportSummary {
        let definitions = try catalog.products.map { product in (product, try LedgerStore.encodeResult(product.definition)) }
        let settings = try LedgerStore.encodeResult(catalog.definition.customTopUp ?? [:])
        let promotions = try LedgerStore.encodeResult(catalog.definition.promotions ?? [])
        let rates = try LedgerStore.encodeResult(catalog.definition.fxRates ?? [])
        // The time zone is stored with the promotions: their local date-times are read in it again on load.
        let timeZone = catalog.definition.timeZone ?? "UTC"
        let rating = try catalog.rating.map { try LedgerStore.encodeResult($0) } ?? ""
        return try await database.transaction { db in
            let existing = Set(try await db.raw("SELECT code FROM products").all().map { try $0.string("code") })
            for (position, (product, definition)) in definitions.enumerated() {
                try await db.raw("""
                    INSERT INTO products (code, kind, active, position, definition, updated_at)
                    VALUES (\(bind: product.code), \(bind: product.kind.rawValue), \(bind: product.active ? 1 : 0), \(bind: position),
                            \(bind: definition), \(bind: now.unixMicros))
                    ON CONFLICT (code) DO UPDATE SET kind = excluded.kind, active = excluded.active, position = excluded.position,
                        definition = excluded.definition, updated_at = excluded.updated_at
                    """).run()
            }
            let incoming = Set(catalog.products.map(\.code))
            let missing = existing.subtracting(incoming).sorted()
            if !missing.isEmpty {
                try await db.raw("""
                    UPDATE products SET active = 0, updated_at = \(bind: now.unixMicros) WHERE code IN (\(binds: missing))
                    """).run()
            }
            try await db.raw("""
                INSERT INTO catalog_settings (name, value, updated_at) VALUES ('custom_top_up', \(bind: settings), \(bind: now.unixMicros))
                ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
                """).run()
            try await db.raw("""
                INSERT INTO catalog_settings (name, value, updated_at) VALUES ('version', \(bind: UUID().uuidString), \(bind: now.unixMicros))
                ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
                """).run()
            try await db.raw("""
                INSERT INTO catalog_settings (name, value, updated_at) VALUES ('fx_rates', \(bind: rates), \(bind: now.unixMicros))
                ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
                """).run()
            try await db.raw("""
                INSERT INTO catalog_settings (name, value, updated_at) VALUES ('time_zone', \(bind: timeZone), \(bind: now.unixMicros))
                ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
                """).run()
            try await db.raw("""
                INSERT INTO catalog_settings (name, value, updated_at) VALUES ('promotions', \(bind: promotions), \(bind: now.unixMicros))
                ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
                """).run()
            try await db.raw("""
                INSERT INTO catalog_settings (name, value, updated_at) VALUES ('rating', \(bind: rating), \(bind: now.unixMicros))
                ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
                """).run()
            return ImportSummary(added: incoming.subtracting(existing).count, updated: incoming.intersection(existing).count,
                                 deactivated: missing.count)
        }
    }

    /// The whole catalog, inactive products included (they still explain old orders), in import order.
    public func catalog() async throws -> Catalog {
        try await database.read { db in try await self.current(in: db) }
    }

    /// False only when the catalog last read here has no promotion with usage limits (then orders need not
    /// queue for one). True before anything was read.
    var mayHaveLimitedPromotions: Bool {
        cache.withLockedValue { cached in cached.map { $0.catalog.promotions.contains(where: \.hasLimits) } ?? true }
    }

    /// The catalog as of this transaction: the cached one if no import happened since it was parsed.
    func current(in db: any SQLDatabase) async throws -> Catalog {
        let version = try await db.raw("SELECT value FROM catalog_settings WHERE name = 'version'").first()?.string("value") ?? ""
        if let cached = cache.withLockedValue({ $0 }), cached.version == version { return cached.catalog }
        let catalog = try await Self.load(db)
        cache.withLockedValue { $0 = (version, catalog) }
        return catalog
    }

    static func load(_ db: any SQLDatabase) async throws -> Catalog {
        let rows = try await db.raw("SELECT definition, active FROM products ORDER BY active DESC, position, code").all()
        let products = try rows.map { row in
            let stored = try LedgerStore.decodeResult(try row.string("definition"), as: CatalogDefinition.Product.self)
            // The column, not the stored entry, says whether it is sold: an import deactivates products it omits.
            guard try row.decode(column: "active", as: Int.self) == 0 else { return stored }
            return CatalogDefinition.Product(
                code: stored.code, kind: stored.kind, names: stored.names, prices: stored.prices, credit: stored.credit,
                allowances: stored.allowances, validityDays: stored.validityDays, coverage: stored.coverage, autoRenew: stored.autoRenew,
                plan: stored.plan, active: false, descriptions: stored.descriptions)
        }
        var ranges: [String: CatalogDefinition.Range]?
        var promotions: [CatalogDefinition.Promotion]?
        var rates: [CatalogDefinition.ExchangeRate]?
        var timeZone: String?
        var rating: RatingDefinition?
        for row in try await db.raw("SELECT name, value FROM catalog_settings").all() {
            switch try row.string("name") {
            case "custom_top_up": ranges = try LedgerStore.decodeResult(try row.string("value"), as: [String: CatalogDefinition.Range].self)
            case "promotions": promotions = try LedgerStore.decodeResult(try row.string("value"), as: [CatalogDefinition.Promotion].self)
            case "time_zone": timeZone = try row.string("value")
            case "rating":
                let text = try row.string("value")
                rating = text.isEmpty ? nil : try LedgerStore.decodeResult(text, as: RatingDefinition.self)
            case "fx_rates": rates = try LedgerStore.decodeResult(try row.string("value"), as: [CatalogDefinition.ExchangeRate].self)
            default: continue
            }
        }
        return try Catalog(CatalogDefinition(customTopUp: ranges, products: products, promotions: promotions, fxRates: rates,
                                             timeZone: timeZone == "UTC" ? nil : timeZone, rating: rating))
    }

    /// One product by code, active or not.
    public func product(_ code: String) async throws -> Product {
        guard let product = try await catalog().product(code) else { throw RechargeError.productNotFound(code) }
        return product
    }
}
