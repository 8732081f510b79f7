//! The demo store: a few accounts of each kind with known credentials (idempotent: existing
//! accounts are left as they are). The catalogue issue adds dealers' listings.

use accounts::{Accounts, AccountsError, Role};

pub struct DemoAccount {
    pub email: &'static str,
    pub name: &'static str,
    pub role: Role,
}

pub const DEMO_PASSWORD: &str = "bespoke-demo";

pub const DEMO_ACCOUNTS: &[DemoAccount] = &[
    DemoAccount { email: "admin@bespoke.test", name: "Ada Admin", role: Role::Admin },
    DemoAccount { email: "oak@bespoke.test", name: "Oak & Iron Workshop", role: Role::Dealer },
    DemoAccount { email: "loom@bespoke.test", name: "Loom Street Textiles", role: Role::Dealer },
    DemoAccount { email: "clay@bespoke.test", name: "Riverside Clay Studio", role: Role::Dealer },
    DemoAccount { email: "carmen@bespoke.test", name: "Carmen Customer", role: Role::Customer },
    DemoAccount { email: "kai@bespoke.test", name: "Kai Customer", role: Role::Customer },
];

pub async fn run(accounts: &Accounts) -> Result<(), AccountsError> {
    for a in DEMO_ACCOUNTS {
        match accounts.create_with_role(a.email, a.name, DEMO_PASSWORD, a.role).await {
            Ok(_) | Err(AccountsError::EmailTaken) => {}
            Err(e) => return Err(e),
        }
    }
    println!("demo accounts (password for all: {DEMO_PASSWORD}):");
    for a in DEMO_ACCOUNTS {
        println!("  {:<9} {}", a.role.as_str(), a.email);
    }
    Ok(())
}

/// The demo catalogue: a category tree, 50 dealers with stores, and `products` listings generated
/// from word lists with a seeded random generator, so the same seed gives the same catalogue.
pub mod catalogue {
    use accounts::{Accounts, AccountsError, Role};
    use catalog::{Catalog, CatalogError, OptionInput, ProductInput, StoreInput};
    use rand::{rngs::StdRng, Rng, SeedableRng};

    pub const TREE: &[(&str, &str, &[(&str, &str)])] = &[
        ("home", "Home & Living", &[("furniture", "Furniture"), ("lighting", "Lighting"), ("tableware", "Tableware"), ("textiles", "Textiles")]),
        ("jewelry", "Jewelry", &[("rings", "Rings"), ("necklaces", "Necklaces"), ("earrings", "Earrings"), ("bracelets", "Bracelets")]),
        ("clothing", "Clothing", &[("dresses", "Dresses"), ("jackets", "Jackets"), ("knitwear", "Knitwear"), ("accessories", "Accessories")]),
        ("art", "Art", &[("prints", "Prints"), ("paintings", "Paintings"), ("sculpture", "Sculpture"), ("ceramics", "Ceramics")]),
        ("woodwork", "Woodwork", &[("boards", "Boards"), ("boxes", "Boxes"), ("toys", "Toys"), ("utensils", "Utensils")]),
        ("leather", "Leather", &[("bags", "Bags"), ("wallets", "Wallets"), ("belts", "Belts"), ("journals", "Journals")]),
    ];

    fn nouns(leaf: &str) -> &'static [&'static str] {
        match leaf {
            "furniture" => &["chair", "stool", "side table", "bench", "bookshelf", "coffee table"],
            "lighting" => &["lamp", "pendant light", "candle holder", "lantern", "wall sconce"],
            "tableware" => &["bowl", "plate set", "mug", "serving platter", "teapot"],
            "textiles" => &["throw blanket", "cushion cover", "table runner", "rug", "tea towel"],
            "rings" => &["ring", "signet ring", "stacking ring", "band"],
            "necklaces" => &["necklace", "pendant", "choker", "locket"],
            "earrings" => &["earrings", "studs", "hoops", "drop earrings"],
            "bracelets" => &["bracelet", "bangle", "cuff", "charm bracelet"],
            "dresses" => &["dress", "wrap dress", "slip dress", "shirt dress"],
            "jackets" => &["jacket", "coat", "bomber", "waistcoat"],
            "knitwear" => &["sweater", "cardigan", "beanie", "scarf"],
            "accessories" => &["hat", "gloves", "tie", "headband"],
            "prints" => &["print", "poster", "linocut", "screen print"],
            "paintings" => &["painting", "watercolour", "oil painting", "miniature"],
            "sculpture" => &["sculpture", "figurine", "bust", "relief"],
            "ceramics" => &["vase", "planter", "jug", "tile"],
            "boards" => &["cutting board", "serving board", "cheese board", "bread board"],
            "boxes" => &["jewellery box", "keepsake box", "tea box", "watch box"],
            "toys" => &["puzzle", "toy car", "building blocks", "spinning top"],
            "utensils" => &["spoon", "spatula", "salad servers", "butter knife"],
            "bags" => &["tote bag", "backpack", "messenger bag", "clutch"],
            "wallets" => &["wallet", "card holder", "coin purse", "passport cover"],
            "belts" => &["belt", "dress belt", "braided belt", "watch strap"],
            _ => &["journal", "notebook cover", "sketchbook", "planner"],
        }
    }

    fn materials(root: &str) -> &'static [&'static str] {
        match root {
            "home" => &["oak", "walnut", "linen", "wool", "brass", "stoneware", "rattan", "cotton"],
            "jewelry" => &["silver", "gold", "rose gold", "pearl", "opal", "turquoise", "enamel"],
            "clothing" => &["merino", "linen", "silk", "denim", "cashmere", "organic cotton", "tweed"],
            "art" => &["porcelain", "bronze", "paper", "canvas", "clay", "terracotta", "glass"],
            "woodwork" => &["maple", "cherry", "olive wood", "beech", "ash", "walnut", "bamboo"],
            _ => &["full-grain leather", "suede", "vegetable-tanned leather", "nubuck", "waxed canvas"],
        }
    }

    const ADJECTIVES: &[&str] = &[
        "Hand-carved", "Handmade", "Hand-thrown", "Rustic", "Minimalist", "Vintage-style", "Personalised", "Artisan",
        "Hand-stitched", "Hammered", "Engraved", "Woven", "Hand-painted", "Scandinavian", "Heirloom", "Upcycled",
    ];
    const SURNAMES: &[&str] = &[
        "Oak & Iron", "Loom Street", "Riverside", "Alder", "Birchwood", "Copperfield", "Driftwood", "Ember", "Fernhill",
        "Granite", "Harbor", "Ivy Lane", "Juniper", "Kestrel", "Larkspur", "Millstone", "Northwind", "Orchard",
        "Pinecone", "Quarry", "Rosewood", "Saltmarsh", "Thistle", "Umber", "Valley", "Willow", "Yarrow", "Zephyr",
        "Amber", "Bramble", "Cedar", "Dovetail", "Elmstead", "Foxglove", "Goldcrest", "Hawthorn", "Inkwell",
        "Jasper", "Kiln", "Lantern", "Meadow", "Nettle", "Oriel", "Pebble", "Quill", "Rook", "Sorrel", "Tallow",
        "Upland", "Vesper",
    ];
    const TRADES: &[&str] = &["Workshop", "Studio", "Atelier", "Makers", "Craft Co.", "Forge", "Goods", "House"];
    const CITIES: &[&str] = &["Lisbon", "Ghent", "Bristol", "Lyon", "Bologna", "Porto", "Utrecht", "Edinburgh", "Valencia", "Kraków"];
    const COLOURS: &[&str] = &["Natural", "Charcoal", "Forest green", "Ochre", "Navy", "Terracotta"];

    pub async fn ensure_categories(catalog: &Catalog) -> Result<(), CatalogError> {
        // every start runs this: one read when the tree is there already (a write transaction per
        // category is tens of milliseconds of a cold start)
        let have: std::collections::HashSet<String> = catalog.categories().await?.into_iter().map(|c| c.path).collect();
        let wanted = TREE.iter().flat_map(|(slug, _, leaves)| std::iter::once(format!("/{slug}")).chain(leaves.iter().map(move |(leaf, _)| format!("/{slug}/{leaf}"))));
        if wanted.into_iter().all(|p| have.contains(&p)) {
            return Ok(());
        }
        for (i, (slug, name, leaves)) in TREE.iter().enumerate() {
            catalog.ensure_category(None, slug, name, i as i64).await?;
            for (j, (leaf, leaf_name)) in leaves.iter().enumerate() {
                catalog.ensure_category(Some(&format!("/{slug}")), leaf, leaf_name, j as i64).await?;
            }
        }
        Ok(())
    }

    fn product(rng: &mut StdRng, store_name: &str, index: usize) -> (ProductInput, bool) {
        let (root, _, leaves) = TREE[rng.gen_range(0..TREE.len())];
        let (leaf, _) = leaves[rng.gen_range(0..leaves.len())];
        let noun = nouns(leaf)[rng.gen_range(0..nouns(leaf).len())];
        let material = materials(root)[rng.gen_range(0..materials(root).len())];
        let adjective = ADJECTIVES[rng.gen_range(0..ADJECTIVES.len())];
        let title = format!("{adjective} {material} {noun}");
        let base = match root {
            "jewelry" => 40.0,
            "art" => 60.0,
            "home" => 45.0,
            "clothing" => 55.0,
            "leather" => 50.0,
            _ => 25.0,
        };
        let price = base * (0.5 + rng.gen::<f64>() * 4.0);
        let mut options = Vec::new();
        let r = rng.gen::<f64>();
        if r < 0.4 {
            options.push(OptionInput {
                name: "Size".into(),
                kind: "choice".into(),
                required: true,
                values: vec![("Small".into(), String::new()), ("Medium".into(), "8.00".into()), ("Large".into(), "15.00".into())],
                ..OptionInput::default()
            });
        }
        if rng.gen::<f64>() < 0.3 {
            let n = rng.gen_range(2..=4);
            options.push(OptionInput {
                name: "Colour".into(),
                kind: "choice".into(),
                required: true,
                values: COLOURS.iter().take(n).map(|c| ((*c).to_owned(), String::new())).collect(),
                ..OptionInput::default()
            });
        }
        if rng.gen::<f64>() < 0.2 {
            options.push(OptionInput {
                name: "Engraving".into(),
                kind: "text".into(),
                required: false,
                max_length: Some(30),
                price_delta: "12.00".into(),
                ..OptionInput::default()
            });
        }
        let stock = if rng.gen::<f64>() < 0.3 { None } else { Some(rng.gen_range(0..40).to_string()) };
        let description = format!(
            "A **{}** {noun} made by hand at {store_name} from {material}.\n\n- made to last, repairable\n- each piece is slightly different\n- ships in recycled packaging\n\nCare: wipe clean; keep away from direct heat. Item #{index}.",
            adjective.to_lowercase()
        );
        (
            ProductInput {
                title,
                description,
                category: format!("/{root}/{leaf}"),
                price: format!("{price:.2}"),
                currency: "EUR".into(),
                stock,
                attributes: vec![("brand".into(), store_name.to_owned()), ("material".into(), material.to_owned())],
                options,
            },
            rng.gen::<f64>() < 0.02,
        )
    }

    /// Dealers, stores and products until the catalogue holds `products` listings (idempotent).
    pub async fn seed(accounts: &Accounts, catalog: &Catalog, products: usize, seed: u64) -> Result<usize, Box<dyn std::error::Error>> {
        ensure_categories(catalog).await?;
        let existing = catalog.index_rows(None).await?.len();
        let mut rng = StdRng::seed_from_u64(seed);
        let mut stores = Vec::new();
        for (i, surname) in SURNAMES.iter().enumerate() {
            let email = format!("dealer{:02}@bespoke.test", i + 1);
            let trade = TRADES[i % TRADES.len()];
            let name = format!("{surname} {trade}");
            let user = match accounts.create_with_role(&email, &name, super::DEMO_PASSWORD, Role::Dealer).await {
                Ok(u) => u,
                Err(AccountsError::EmailTaken) => accounts.user_by_email(&email).await?.ok_or("demo dealer vanished")?,
                Err(e) => return Err(e.into()),
            };
            let store = catalog
                .seed_store(
                    &user.id.to_string(),
                    &StoreInput {
                        name,
                        description: format!("Small-batch makers from {}. Commissions welcome.", CITIES[i % CITIES.len()]),
                        location: CITIES[i % CITIES.len()].into(),
                    },
                )
                .await?;
            stores.push(store);
        }
        if existing >= products {
            return Ok(0);
        }
        let now = kernel::Timestamp::now().0;
        let mut made = 0;
        let mut batch = Vec::new();
        for i in existing..products {
            let store = &stores[i % stores.len()];
            let (input, featured) = product(&mut rng, &store.name, i);
            // spread publication over the last 90 days so "newest" means something
            let published_at = now - rng.gen_range(0..90 * 24 * 3600) * 1_000_000;
            // some browsing history, so "popular" and "trending" mean something in the demo
            let today = now / 1_000_000 / 86_400;
            let activity: Vec<(i64, i64)> = (0..rng.gen_range(0..4)).map(|_| (today - rng.gen_range(0..30), rng.gen_range(1..60))).collect();
            batch.push((input, featured, published_at, activity));
            if batch.len() == 500 || i + 1 == products {
                for (s, chunk) in group_by_store(&batch, i + 1 - batch.len(), stores.len()) {
                    made += catalog.seed_products(&stores[s], &chunk).await?;
                }
                batch.clear();
            }
        }
        Ok(made)
    }

    fn group_by_store(
        batch: &[(ProductInput, bool, i64, Vec<(i64, i64)>)],
        first_index: usize,
        stores: usize,
    ) -> Vec<(usize, Vec<(ProductInput, bool, i64, Vec<(i64, i64)>)>)> {
        let mut groups: Vec<(usize, Vec<_>)> = (0..stores).map(|s| (s, Vec::new())).collect();
        for (k, item) in batch.iter().enumerate() {
            groups[(first_index + k) % stores].1.push(item.clone());
        }
        groups.into_iter().filter(|(_, v)| !v.is_empty()).collect()
    }
}

/// The demo store's browsing history: shoppers with a taste for one or two categories view,
/// save to their cart and buy listings there, so `./bespoke serve` starts with a trained
/// recommendation model and "Customers also bought" means something. Idempotent: nothing is added
/// once any signed-in person's signal is recorded.
pub mod signals {
    use accounts::{Accounts, AccountsError, Role};
    use catalog::Catalog;
    use rand::{rngs::StdRng, seq::SliceRandom, Rng, SeedableRng};
    use recommend::Recommender;

    pub async fn seed(accounts: &Accounts, catalog: &Catalog, rec: &Recommender, shoppers: usize, seed: u64) -> Result<usize, Box<dyn std::error::Error>> {
        if shoppers == 0 || rec.has_signals().await? {
            return Ok(0);
        }
        let rows = catalog.index_rows(None).await?;
        let mut by_cat: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for r in rows.into_iter().filter(|r| r.stock.is_none_or(|s| s > 0)) {
            by_cat.entry(r.category_path).or_default().push(r.product_id);
        }
        let cats: Vec<Vec<String>> = by_cat.into_values().filter(|v| v.len() >= 10).collect();
        if cats.is_empty() {
            return Ok(0);
        }
        let mut rng = StdRng::seed_from_u64(seed ^ 0x516e);
        // within a category some listings are much more looked at than others
        let pick = |rng: &mut StdRng, v: &[String]| -> String {
            let k = (rng.gen::<f64>().powi(3) * v.len() as f64) as usize;
            v[k.min(v.len() - 1)].clone()
        };
        let now = kernel::Timestamp::now().0;
        let mut people = Vec::new();
        for n in 1..=shoppers {
            let email = format!("shopper{n:03}@bespoke.test");
            let user = match accounts.create_with_role(&email, &format!("Shopper {n}"), super::DEMO_PASSWORD, Role::Customer).await {
                Ok(u) => u,
                Err(AccountsError::EmailTaken) => accounts.user_by_email(&email).await?.ok_or("demo shopper vanished")?,
                Err(e) => return Err(e.into()),
            };
            people.push(user.id.to_string());
        }
        // Carmen, the demo customer, likes one category too: her home page says so
        if let Some(c) = accounts.user_by_email("carmen@bespoke.test").await? {
            people.push(c.id.to_string());
        }
        let mut signals = Vec::new();
        for (k, person) in people.iter().enumerate() {
            let subject = recommend::service::subject_of_user(person);
            let first = &cats[k % cats.len()];
            let second = cats.choose(&mut rng).unwrap_or(first);
            let mut seen = std::collections::HashSet::new();
            for j in 0..rng.gen_range(12..30) {
                let from = if j % 4 == 3 { second } else { first };
                let product = pick(&mut rng, from);
                if !seen.insert(product.clone()) {
                    continue;
                }
                let carts = i64::from(rng.gen_bool(0.2));
                let purchases = i64::from(carts == 1 && rng.gen_bool(0.5));
                let at = now - rng.gen_range(0..30 * 24 * 3600) * 1_000_000;
                signals.push((subject.clone(), product, rng.gen_range(1..4), carts, purchases, at));
            }
        }
        Ok(rec.record_signals(&signals).await?)
    }
}
