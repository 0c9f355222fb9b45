import Foundation
import RechargeCore
import RechargeOrders
import RechargePayments
import RechargeStore

/// Creates a recharge order and starts its checkout at the provider: what the API's
/// `POST /v1/lines/{msisdn}/orders` and the portal's Pay button share. A replayed key gets the same order and
/// the same checkout back.
struct OrderPlacement: Sendable {
    let orders: OrderService
    let payments: PaymentProviders

    struct Placed: Sendable {
        let order: RechargeOrder
        let checkout: CheckoutOutput?
        let replayed: Bool
    }

    /// `stripeSession`: a Stripe Checkout Session (hosted page) instead of a PaymentIntent; `chinese`: the payer
    /// reads Chinese (the providers' pages are asked for in that language).
    func place(msisdn: MSISDN, item: OrderStore.Item, method: PaymentMethod, promotionCode: String?, payCurrency: Currency?,
               stripeSession: Bool, key: IdempotencyKey, chinese: Bool) async throws -> Placed {
            guard payments.offers(method) else { throw RechargeError.paymentMethodUnavailable(method.rawValue) }
            // Checkout starts in the creating transaction (the sandbox's and bank transfer's references are made
            // here); a replayed create finds it started and gets the same answer.
            let payments = self.payments
            var localCheckout: (@Sendable (String) -> String?)?
            if payments.startsCheckoutLocally(method) {
                localCheckout = { id in payments.reference(forOrder: id, method: method) }
            }
            let creation = try await orders.create(msisdn: msisdn, item: item, paymentMethod: method,
                                                   promotionCode: promotionCode, payCurrency: payCurrency ?? payments.defaultCurrency(method),
                                                   key: key,
                                                   lifetime: payments.lifetime(method),
                                                   localReference: localCheckout)
            var order = creation.order
            var checkout = order.state == .awaitingPayment ? payments.checkout(for: order) : nil
            // A replayed create of an order already paid (or closed) answers with the order as it is, asking no provider.
            let payable = order.state == .created || order.state == .awaitingPayment
            // A Checkout Session when asked for (or when this order already has one: a replayed create).
            if payable, let stripe = payments.stripe, stripe.client != nil, method == .stripe,
               order.state == .created ? stripeSession : order.providerReference?.hasPrefix("cs_") == true {
                let session: StripeCheckoutSession
                do {
                    session = try await stripe.startSession(order, locale: chinese ? "zh" : nil)
                } catch let error as RechargeError {
                    throw error
                } catch {
                    throw Problem.providerUnavailable("Stripe could not start the payment of order \(order.id): \(error). Retry with the same Idempotency-Key.")
                }
                if order.state == .created { order = try await orders.startCheckout(order.id, providerReference: session.id) }
                checkout = CheckoutOutput(type: "redirect", url: session.url, reference: session.id, account: nil, accountName: nil, bankName: nil,
                                          clientSecret: nil, qrCode: nil)
            } else if payable, let stripe = payments.stripe?.client, method == .stripe {
                // The PaymentIntent is made after the order is committed (never a network call inside a transaction),
                // keyed by the order id, so a retried create (or a crash in between) finds the same intent.
                let intent: StripePaymentIntent
                do {
                    intent = try await stripe.createPaymentIntent(
                        amountMinorUnits: order.quote.price.minorUnits(rounding: .halfEven), currency: order.quote.price.currency.code.lowercased(),
                        orderID: order.id, idempotencyKey: "order:\(order.id):intent")
                } catch {
                    throw Problem.providerUnavailable("Stripe could not start the payment of order \(order.id): \(error). Retry with the same Idempotency-Key.")
                }
                if order.state == .created { order = try await orders.startCheckout(order.id, providerReference: intent.id) }
                checkout = CheckoutOutput(type: "client_secret", url: nil, reference: intent.id, account: nil, accountName: nil, bankName: nil,
                                          clientSecret: intent.clientSecret, qrCode: nil)
            }
            if payable, let paypal = payments.paypal, method == .paypal {
                // A PayPal order, made after ours is committed and keyed by its id (a retried create gets the same
                // PayPal order back); the payer is sent to its approval page.
                if order.state == .created {
                    let started: (reference: String, approvalURL: String)
                    do {
                        started = try await paypal.startCheckout(order, locale: chinese ? "zh-CN" : nil)
                    } catch let error as RechargeError {
                        throw error
                    } catch {
                        throw Problem.providerUnavailable("PayPal could not start the payment of order \(order.id): \(error). Retry with the same Idempotency-Key.")
                    }
                    order = try await orders.startCheckout(order.id, providerReference: started.reference)
                    checkout = CheckoutOutput(type: "redirect", url: started.approvalURL, reference: started.reference, account: nil, accountName: nil,
                                              bankName: nil, clientSecret: nil, qrCode: nil)
                }
            }
            if payable, method == .alipay || method == .wechatPay {
                // A QR code for the payer's wallet app; the trade number is the order id, so a retried create asks for the
                // same trade again (both gateways answer a repeated out_trade_no with the same trade).
                let price = order.quote.price
                guard price.currency.code == "CNY" else {
                    throw RechargeError.invalidRequest("\(method.rawValue) takes payment in CNY; this order is priced in \(price.currency.code).")
                }
                let content: String
                do {
                    if method == .alipay, let client = payments.alipay?.client {
                        content = try await client.precreate(outTradeNo: order.id, totalAmountMinorUnits: price.minorUnits(rounding: .halfEven),
                                                             subject: order.quote.names["zh-Hans"] ?? order.quote.names["en"] ?? order.id).qrCode
                    } else if let client = payments.wechatPay?.client {
                        content = try await client.nativePay(outTradeNo: order.id, description: order.quote.names["zh-Hans"] ?? order.quote.names["en"] ?? order.id,
                                                             totalFen: price.minorUnits(rounding: .halfEven))
                    } else {
                        throw RechargeError.paymentMethodUnavailable(method.rawValue)
                    }
                } catch let error as RechargeError {
                    throw error
                } catch {
                    throw Problem.providerUnavailable("\(method.rawValue) could not start the payment of order \(order.id): \(error). Retry with the same Idempotency-Key.")
                }
                if order.state == .created { order = try await orders.startCheckout(order.id, providerReference: order.id) }
                checkout = CheckoutOutput(type: "qr_code", url: nil, reference: order.id, account: nil, accountName: nil, bankName: nil,
                                          clientSecret: nil, qrCode: content)
            }
        return Placed(order: order, checkout: checkout, replayed: creation.replayed)
    }
}
