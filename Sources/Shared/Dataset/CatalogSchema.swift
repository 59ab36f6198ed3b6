/// The catalog's schema as an ordered list of migrations. `PRAGMA user_version` records how many
/// have been applied; opening a catalog applies the missing ones, each in its own transaction, so
/// an old catalog is upgraded in place and a new one is built by the same path.
///
/// Never edit a published migration: append a new one.
enum CatalogSchema {
    static let migrations: [String] = [
        // 1: samples, one row per sample file, with the fields curation queries filter on.
        """
        CREATE TABLE samples (
            id TEXT PRIMARY KEY,
            path TEXT NOT NULL UNIQUE,
            content_hash TEXT NOT NULL,
            source TEXT NOT NULL,
            site TEXT NOT NULL,
            crop TEXT NOT NULL,
            split TEXT NOT NULL,
            width INTEGER NOT NULL,
            height INTEGER NOT NULL,
            bands INTEGER NOT NULL,
            gsd_m REAL NOT NULL,
            canopy_fraction REAL NOT NULL,
            tree_count INTEGER NOT NULL,
            mean_tree_area_m2 REAL NOT NULL,
            netting INTEGER NOT NULL DEFAULT 0,
            planting_density REAL,
            synthetic INTEGER NOT NULL DEFAULT 0,
            added_at TEXT NOT NULL,
            last_loss REAL,
            last_seen_step INTEGER
        );
        CREATE INDEX samples_by_site ON samples(site);
        CREATE INDEX samples_by_crop_split ON samples(crop, split);
        CREATE INDEX samples_by_source ON samples(source, synthetic);
        CREATE INDEX samples_by_tree_count ON samples(tree_count);
        CREATE INDEX samples_by_tree_area ON samples(mean_tree_area_m2);
        CREATE INDEX samples_by_last_loss ON samples(last_loss);
        """,
        // 2: provenance of every frozen manifest.
        """
        CREATE TABLE manifests (
            name TEXT PRIMARY KEY,
            path TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            query TEXT NOT NULL,
            catalog_state TEXT NOT NULL,
            sample_count INTEGER NOT NULL,
            created_at TEXT NOT NULL
        );
        """,
        // 3: whether every tree of a sample is labelled (real tiles may miss some).
        """
        ALTER TABLE samples ADD COLUMN labels_complete INTEGER NOT NULL DEFAULT 1;
        """,
        // 4: where a tile was cut from its source image, so that a held-out set can be a whole
        // region of an image with a margin, not tiles whose neighbours were trained on. NULL when
        // unknown (synthetic tiles, directories without the columns).
        """
        ALTER TABLE samples ADD COLUMN source_image TEXT;
        ALTER TABLE samples ADD COLUMN tile_x INTEGER;
        ALTER TABLE samples ADD COLUMN tile_y INTEGER;
        CREATE INDEX samples_by_source_image ON samples(source_image, tile_x, tile_y);
        """,
    ]

    static var currentVersion: Int { migrations.count }

    /// Applies the migrations `db` lacks; refuses a database written by a newer schema.
    static func migrate(_ db: SQLite) throws(DatasetError) {
        let found = try version(of: db)
        guard found <= currentVersion else {
            throw DatasetError(code: "catalog.schema-too-new",
                               "catalog \(db.path) has schema version \(found); this program knows versions up to \(currentVersion)")
        }
        for index in found..<currentVersion {
            try db.transaction { () throws(DatasetError) in
                try db.execute(migrations[index])
                try db.execute("PRAGMA user_version = \(index + 1)")
            }
        }
    }

    static func version(of db: SQLite) throws(DatasetError) -> Int {
        try db.rows("PRAGMA user_version").first?.first?.int ?? 0
    }
}
