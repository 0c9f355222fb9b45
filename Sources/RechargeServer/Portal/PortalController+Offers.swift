import Foundation
import Hummingbird
import RechargeCore

/// The public offers page: no account needed, nothing but the catalog's listed promotions.
extension PortalController {
    func addOfferRoutes(to router: Router<RechargeRequestContext>) {
        router.get("offers", use: wrap(offersPage))
    }

    @Sendable func offersPage(_ request: Request, _ visitor: Visitor) async throws -> Response {
        let catalog = try await services.catalog.catalog()
        return page("offers", visitor, title: "offers_title", model: OffersView.make(catalog: catalog, at: clock(), locale(visitor)))
    }
}
