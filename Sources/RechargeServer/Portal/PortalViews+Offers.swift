import Foundation
import Mustache
import RechargeCore

/// `offers.mustache`: the public offers page. The listed promotions running now and starting soon
/// (``OfferListing``), each with its name and description in the visitor's language, what it gives, its public
/// code when it has one, and its dates in the operator's time zone (the catalog's `timeZone`).
struct OffersView: Sendable {
    struct Offer: Sendable {
        let code: String
        let kind: String
        let kindText: String
        let name: String
        let description: String?
        let details: [String]
        /// The discount code to type, only for a promotion the catalog lists (a secret code never reaches here).
        let promoCode: String?
        let dates: String
    }

    let running: [Offer]
    let upcoming: [Offer]
    let hasRunning: Bool
    let hasUpcoming: Bool
    let noOffers: Bool
    let zoneNote: String

    static func make(catalog: Catalog, at now: Date, _ locale: PortalLocale) -> OffersView {
        let listing = catalog.offers(at: now)
        let running = listing.running.map { offer($0, catalog: catalog, locale) }
        let upcoming = listing.upcoming.map { offer($0, catalog: catalog, locale) }
        return OffersView(running: running, upcoming: upcoming, hasRunning: !running.isEmpty, hasUpcoming: !upcoming.isEmpty,
                          noOffers: running.isEmpty && upcoming.isEmpty,
                          zoneNote: locale.text("offers_time_zone", ["zone": catalog.timeZone.identifier]))
    }

    static func offer(_ promotion: Promotion, catalog: Catalog, _ locale: PortalLocale) -> Offer {
        let money = { (micros: Int64) in PortalLocale.money(Money(micros: micros, currency: promotion.currency)) }
        var details: [String] = []
        let kind: String
        switch promotion.benefit {
        case .topUpBonus(let tiers, let days):
            kind = "bonus"
            details = tiers.map {
                locale.text("offers_tier", ["minimum": money($0.minimum), "bonus": money($0.bonus), "validity": locale.days(days)])
            }
        case .bucketBonus(let minimum, let grants):
            kind = "bucket"
            let granted = locale.bonusAllowances(grants)
            details = [minimum > 0 ? locale.text("offers_bucket_bonus", ["minimum": money(minimum), "grants": granted])
                                   : locale.text("offers_bucket_bonus_any", ["grants": granted])]
        case .percentOff(let percent):
            kind = promotion.discountOn == .topUp ? "top_up_discount" : "pack_discount"
            details = [locale.text(promotion.discountOn == .topUp ? "offers_percent_top_ups" : "offers_percent_packs", ["percent": String(percent)])]
        case .amountOff(let amount):
            kind = promotion.discountOn == .topUp ? "top_up_discount" : "pack_discount"
            details = [locale.text(promotion.discountOn == .topUp ? "offers_amount_top_ups" : "offers_amount_packs", ["amount": money(amount)])]
        }
        if !promotion.products.isEmpty {
            let names = promotion.products.map { code in catalog.product(code)?.name(language: locale.language.rawValue) ?? code }
            details.append(locale.text("offers_products", ["products": names.joined(separator: locale.text("offers_list_separator"))]))
        }
        if let perLine = promotion.limitPerLine {
            details.append(perLine == 1 ? locale.text("offers_once_per_line") : locale.text("offers_per_line", ["count": String(perLine)]))
        }
        if let total = promotion.limitTotal { details.append(locale.text("offers_limit_total", ["count": String(total)])) }
        let zone = catalog.timeZone
        let start = promotion.startsAt.map { Self.local($0, zone) }
        let end = promotion.endsAt.map { Self.local($0, zone) }
        let dates = switch (start, end) {
        case (let start?, let end?): locale.text("offers_dates_both", ["start": start, "end": end])
        case (let start?, nil): locale.text("offers_dates_from", ["start": start])
        case (nil, let end?): locale.text("offers_dates_until", ["end": end])
        case (nil, nil): locale.text("offers_dates_open")
        }
        return Offer(code: promotion.code, kind: kind, kindText: locale.text("offers_kind_\(kind)"), name: promotion.name(language: locale.language.rawValue),
                     description: promotion.description(language: locale.language.rawValue), details: details,
                     promoCode: promotion.isListed ? promotion.discountCode : nil, dates: dates)
    }

    /// `2027-02-06 00:00` in the operator's zone.
    static func local(_ date: Date, _ zone: TimeZone) -> String {
        let text = CatalogTime.localText(date, in: zone)
        return String(text.prefix(10)) + " " + String(text.dropFirst(11).prefix(5))
    }
}

extension PortalLocale {
    /// Bonus buckets for people: `2.00 GB, valid 15 days · 100 SMS, valid 7 days`, with coverage when given.
    func bonusAllowances(_ grants: [BonusAllowance]) -> String {
        grants.map { grant in
            var text = self.text("offers_grant", ["amount": quantity(grant.amount, kind: grant.kind, unit: ""), "validity": days(grant.validityDays)])
            if let name = grant.coverageName {
                text += " (" + self.text("coverage", ["name": name, "countries": (grant.countries ?? []).joined(separator: ", ")]) + ")"
            }
            return text
        }.joined(separator: " · ")
    }

    /// A promotion's name in this language, from the catalog's names (`code` when the catalog no longer has it).
    func promotionName(_ code: String, _ catalog: Catalog?) -> String {
        catalog?.promotions.first { $0.code == code }?.name(language: language.rawValue) ?? code
    }
}

extension OffersView.Offer: MustacheParent {
    func child(named name: String) -> Any? {
        switch name {
        case "code": self.code
        case "kind": self.kind
        case "kindText": self.kindText
        case "name": self.name
        case "description": self.description
        case "details": self.details
        case "promoCode": self.promoCode
        case "dates": self.dates
        default: nil
        }
    }
}
