"""F3's search as you type on a big catalog (issue 23): by the search index, whether the words typed are rare
or in thousands of products. Both databases."""

from tui_pos.services import catalog


def test_rare_and_common_words_both_find_products_holding_every_word(demo, tmp_path):
    path = tmp_path / "p.csv"
    rows = [f",SKU{i:05d},Item {i:04d} Café {i % 7},Aisle,1.00,7,," for i in range(catalog.SEARCH_DENSE + 500)]
    path.write_text("barcode,sku,name,section,price,tax_rate,points,points_cost\n" + "\n".join(rows) + "\n")
    catalog.import_products(path)
    common = catalog.search("item caf", limit=30)              # both words in every product: the dense path
    assert len(common) == 30 and all(p.name.startswith("Item ") and "Café" in p.name for p in common)
    assert [p.name for p in common] == sorted(p.name for p in common)
    rare = catalog.search("item 0007 caf", limit=30)            # one rare word: exact, first by name
    assert [p.sku for p in rare] == ["SKU00007"]
    assert [p.sku for p in catalog.search("sku0001", limit=30)][:3] == ["SKU00010", "SKU00011", "SKU00012"]
