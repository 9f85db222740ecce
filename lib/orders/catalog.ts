/**
 * The product catalog views of the orders need: each product's name, category and department,
 * joined from the retail_db copies in data/retail_db/ (products ▶ categories ▶ departments).
 * retail_db has gaps (category 59 and department 8 are missing); a product whose category or
 * department is unknown keeps its name and is shown under "unknown category 59" /
 * "unknown department 8", never dropped. A product id that is not in the catalog at all is named
 * "product 66".
 *
 * @module
 */
import { DIMENSIONS_DIR, loadCategories, loadDepartments, loadProducts } from "./retail_db.ts";

/** One product, named, with its category and department. */
export interface ProductInfo {
  /** product_id */
  id: number;
  /** product_name (or "product N" when the id is not in the catalog). */
  name: string;
  /** Category name, or "unknown category N". */
  category: string;
  /** Department name, or "unknown department N". */
  department: string;
}

/** Products by id, with a lookup that never fails. */
export interface ProductCatalog {
  /** Products of products.csv by id. */
  readonly products: ReadonlyMap<number, ProductInfo>;
  /** The product's info; an id missing from the catalog gets a placeholder. */
  info(id: number): ProductInfo;
}

/**
 * Joins the three retail_db tables of `dir` (default data/retail_db/) into a
 * {@link ProductCatalog}.
 *
 * @example
 * ```ts
 * import { loadProductCatalog } from "./catalog.ts";
 * const catalog = await loadProductCatalog();
 * catalog.info(957).name; // "Diamondback Women's Serene Classic Comfort Bi"
 * catalog.info(957).category; // "Camping & Hiking"
 * catalog.info(957).department; // "Fan Shop"
 * catalog.info(1322).category; // "unknown category 59"
 * catalog.info(999999).name; // "product 999999"
 * ```
 */
export async function loadProductCatalog(dir: string = DIMENSIONS_DIR): Promise<ProductCatalog> {
  const [products, categories, departments] = await Promise.all([
    loadProducts(dir),
    loadCategories(dir),
    loadDepartments(dir),
  ]);
  return productCatalog(products, categories, departments);
}

/**
 * A {@link ProductCatalog} from loaded rows (as the loaders of retail_db.ts return them).
 *
 * @example
 * ```ts
 * import { productCatalog } from "./catalog.ts";
 * const c = productCatalog(
 *   [{ id: 1, categoryId: 2, name: "Ball" }],
 *   [{ id: 2, departmentId: 3, name: "Soccer" }],
 *   [{ id: 3, name: "Outdoors" }],
 * );
 * c.info(1); // { id: 1, name: "Ball", category: "Soccer", department: "Outdoors" }
 * ```
 */
export function productCatalog(
  products: readonly { id: number; categoryId: number; name: string }[],
  categories: readonly { id: number; departmentId: number; name: string }[],
  departments: readonly { id: number; name: string }[],
): ProductCatalog {
  const cats = new Map(categories.map((c) => [c.id, c]));
  const deps = new Map(departments.map((d) => [d.id, d.name]));
  const map = new Map<number, ProductInfo>();
  for (const p of products) {
    const c = cats.get(p.categoryId);
    map.set(p.id, {
      id: p.id,
      name: p.name.trim() || `product ${p.id}`,
      category: c?.name ?? `unknown category ${p.categoryId}`,
      department: c
        ? deps.get(c.departmentId) ?? `unknown department ${c.departmentId}`
        : "unknown department",
    });
  }
  return {
    products: map,
    info: (id) =>
      map.get(id) ?? {
        id,
        name: `product ${id}`,
        category: "unknown category",
        department: "unknown department",
      },
  };
}
