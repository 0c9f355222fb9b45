import Foundation
import RechargeCore
import Testing

@Suite("Order lifecycle and catalog")
struct OrderLifecycleTests {
    static let events: [OrderEvent] = [.checkoutStarted, .paymentConfirmed, .paymentFailed, .expire, .cancel, .fulfilled,
                                       .refunded(full: true), .refunded(full: false)]

    @Test func happyPath() throws {
        var order = OrderLifecycle(orderID: "ord_1", state: .created)
        #expect(try order.handle(.checkoutStarted) == .record)
        #expect(order.state == .awaitingPayment)
        #expect(try order.handle(.paymentConfirmed) == .fulfil)
        #expect(order.state == .paid)
        #expect(try order.handle(.fulfilled) == .record)
        #expect(order.state == .fulfilled)
        #expect(try order.handle(.refunded(full: false)) == .record)
        #expect(order.state == .partiallyRefunded)
        #expect(try order.handle(.refunded(full: true)) == .record)
        #expect(order.state == .refunded)
    }

    /// Money really taken is always honoured; duplicates never fulfil twice.
    @Test func everyConfirmationFulfilsAtMostOnce() throws {
        for state in OrderState.allCases {
            var order = OrderLifecycle(orderID: "ord_1", state: state)
            let action = try order.handle(.paymentConfirmed)
            switch state {
            case .created, .awaitingPayment, .failed, .expired, .cancelled:
                #expect(action == .fulfil && order.state == .paid, "\(state)")
            case .paid, .fulfilled, .refunded, .partiallyRefunded:
                #expect(action == .none && order.state == state, "\(state)")
            }
            // A second confirmation after the first never asks for fulfilment again.
            var again = order
            #expect(try again.handle(.paymentConfirmed) == .none)
        }
    }

    /// Every (state, event) pair either moves as the table says or throws a typed error; none is silently ignored
    /// except the duplicates the lifecycle documents.
    @Test func illegalTransitionsAreTypedErrors() throws {
        var order = OrderLifecycle(orderID: "ord_9", state: .fulfilled)
        #expect(throws: RechargeError.illegalOrderTransition(order: "ord_9", from: .fulfilled, event: "cancelled")) { try order.handle(.cancel) }
        #expect(order.state == .fulfilled)
        var created = OrderLifecycle(orderID: "ord_9", state: .created)
        #expect(throws: RechargeError.self) { try created.handle(.refunded(full: true)) }
        #expect(throws: RechargeError.self) { try created.handle(.fulfilled) }
        var expired = OrderLifecycle(orderID: "ord_9", state: .expired)
        #expect(throws: RechargeError.self) { try expired.handle(.cancel) }
        var outcomes = 0
        for state in OrderState.allCases {
            for event in Self.events {
                var order = OrderLifecycle(orderID: "ord_1", state: state)
                do {
                    _ = try order.handle(event)
                    outcomes += 1
                } catch {
                    #expect(order.state == state, "a refused \(event) must not change \(state)")
                }
            }
        }
        #expect(outcomes > 0)
    }

    @Test func failureAndCancellation() throws {
        var order = OrderLifecycle(orderID: "ord_1", state: .awaitingPayment)
        #expect(try order.handle(.paymentFailed) == .notifyFailure)
        #expect(try order.handle(.paymentFailed) == .none)
        #expect(try order.handle(.cancel) == .record)
        #expect(order.state == .cancelled)
        var late = OrderLifecycle(orderID: "ord_2", state: .fulfilled)
        #expect(try late.handle(.paymentFailed) == .none)
        #expect(late.state == .fulfilled)
    }

    @Test func orderIDsAreRandomAndWellFormed() {
        var generator = SystemRandomNumberGenerator()
        let ids = (0..<200).map { _ in RechargeOrder.newID(using: &generator) }
        #expect(Set(ids).count == 200)
        #expect(ids.allSatisfy(RechargeOrder.isWellFormedID))
        #expect(!RechargeOrder.isWellFormedID("ord_'; DROP TABLE orders; --"))
        #expect(!RechargeOrder.isWellFormedID("ord_short"))
    }

    static func product(_ code: String = "us-5gb", kind: Product.Kind = .pack, prices: [String: String] = ["USD": "15.00"],
                        credit: [String: String]? = nil, allowances: [CatalogDefinition.Product.Allowance]? = [.init(kind: .data, amount: "5GB")],
                        validityDays: Int? = 30) -> CatalogDefinition.Product {
        .init(code: code, kind: kind, names: ["en": "Pack", "zh-Hans": "套餐"], prices: prices, credit: credit, allowances: allowances,
              validityDays: validityDays, coverage: nil, autoRenew: nil, plan: nil, active: nil)
    }

    @Test func catalogChecksEveryProduct() throws {
        let good = try Catalog(CatalogDefinition(customTopUp: ["USD": .init(min: "5", max: "500")], products: [Self.product()]))
        #expect(good.product("us-5gb")?.allowances == [.init(kind: .data, amount: 5 * 1_073_741_824)])
        #expect(good.customTopUp[.usd] == 5_000_000...500_000_000)
        // Round trip through the definition gives the same catalog.
        #expect(try Catalog(good.definition) == good)

        let bad: [(CatalogDefinition.Product, String)] = [
            (Self.product("Bad Code"), "code"),
            (Self.product(prices: ["USD": "0"]), "positive"),
            (Self.product(prices: ["USD": "1.005"]), "minor units"),
            (Self.product(prices: ["USD": "1e3"]), "Amount"),
            (Self.product(prices: [:]), "price"),
            (Self.product(allowances: []), "allowance"),
            (Self.product(allowances: [.init(kind: .data, amount: "5 parsecs")]), "unit"),
            (Self.product(allowances: [.init(kind: .monetary, amount: "5")]), "credit"),
            (Self.product(validityDays: nil), "validityDays"),
            (Self.product(validityDays: 0), "validityDays"),
            (Self.product(kind: .topUp, credit: nil, allowances: nil), "credit"),
            (Self.product(kind: .topUp, credit: ["USD": "10", "CNY": "70"], allowances: nil), "one currency"),
        ]
        for (product, words) in bad {
            #expect {
                _ = try Catalog(CatalogDefinition(customTopUp: nil, products: [product]))
            } throws: { error in
                guard case .invalidCatalog(let reason) = error as? RechargeError else { return false }
                return reason.localizedCaseInsensitiveContains(words) || error.localizedDescription.contains(words)
                    || (error as? RechargeError)?.detail.contains(words) == true
            }
        }
        #expect(throws: RechargeError.invalidCatalog("product code 'us-5gb' appears twice")) {
            _ = try Catalog(CatalogDefinition(customTopUp: nil, products: [Self.product(), Self.product()]))
        }
        #expect(throws: RechargeError.self) {
            _ = try Catalog(CatalogDefinition(customTopUp: ["USD": .init(min: "50", max: "5")], products: []))
        }
    }

    @Test func quantities() throws {
        #expect(try Quantity.parse("5GB", kind: .data) == 5 << 30)
        #expect(try Quantity.parse("500 MB", kind: .data) == 500 << 20)
        #expect(try Quantity.parse("100min", kind: .voice) == 6000)
        #expect(try Quantity.parse("300", kind: .sms) == 300)
        #expect(throws: RechargeError.self) { try Quantity.parse("-5GB", kind: .data) }
        #expect(throws: RechargeError.self) { try Quantity.parse("5GB", kind: .voice) }
        #expect(throws: RechargeError.self) { try Quantity.parse("99999999999999999GB", kind: .data) }
        for (amount, kind) in [(Int64(5) << 30, BucketKind.data), (1536 << 20, .data), (1234, .data), (6000, .voice), (61, .voice), (7, .sms)] {
            #expect(try Quantity.parse(Quantity.format(amount, kind: kind), kind: kind) == amount)
        }
    }

    @Test func quotes() throws {
        let catalog = try Catalog(CatalogDefinition(
            customTopUp: ["USD": .init(min: "5", max: "500")],
            products: [Self.product(), Self.product("topup-10", kind: .topUp, prices: ["USD": "10", "CNY": "72"], credit: ["USD": "10"], allowances: nil, validityDays: nil)]))
        let topUp = try OrderQuote.product(try #require(catalog.product("topup-10")), currency: .usd, lineCurrency: .usd)
        #expect(topUp.price.micros == 10_000_000 && topUp.credit?.micros == 10_000_000)
        let custom = try OrderQuote.customTopUp(try Money(decimal: "12.34", currency: .usd), catalog: catalog, lineCurrency: .usd)
        #expect(custom.price == custom.credit)
        #expect(throws: RechargeError.self) { try OrderQuote.customTopUp(try Money(decimal: "4.99", currency: .usd), catalog: catalog, lineCurrency: .usd) }
        #expect(throws: RechargeError.self) { try OrderQuote.customTopUp(try Money(decimal: "12.345", currency: .usd), catalog: catalog, lineCurrency: .usd) }
        #expect(throws: RechargeError.self) {
            try OrderQuote.customTopUp(try Money(decimal: "12", currency: try Currency(code: "CNY")), catalog: catalog, lineCurrency: .usd)
        }
    }

    @Test func exchangeRatesConvertExactlyAndRoundUpOnce() throws {
        let cny = try Currency(code: "CNY")
        let rate = try ExchangeRate(.init(base: "USD", quote: "CNY", rate: "7.2345", source: "desk", validMinutes: 15))
        #expect(try rate.convert(try Money(decimal: "10", currency: .usd)) == (try Money(decimal: "72.35", currency: cny)))   // 72.345 up
        #expect(try rate.convert(try Money(decimal: "100", currency: .usd)) == (try Money(decimal: "723.45", currency: cny)))  // exact
        #expect(try rate.convert(try Money(decimal: "0.01", currency: .usd)) == (try Money(decimal: "0.08", currency: cny)))  // 0.072345 up
        // A billion dollars converts without overflow or float.
        #expect(try rate.convert(try Money(decimal: "1000000000", currency: .usd)) == (try Money(decimal: "7234500000", currency: cny)))
        #expect(throws: RechargeError.self) { try rate.convert(try Money(decimal: "1", currency: cny)) }
        #expect(throws: RechargeError.self) { try ExchangeRate(.init(base: "USD", quote: "USD", rate: "1", source: "x", validMinutes: 5)) }
        #expect(throws: RechargeError.self) { try ExchangeRate(.init(base: "USD", quote: "CNY", rate: "7.23456789", source: "x", validMinutes: 5)) }
        #expect(throws: RechargeError.self) { try ExchangeRate(.init(base: "USD", quote: "CNY", rate: "0", source: "x", validMinutes: 5)) }
    }
}
