-- The shop: catalogue, help articles, orders and returns.

-- A shop's order export carries no names; such customers are known by id alone.
ALTER TABLE customers ALTER COLUMN display_name DROP NOT NULL;

CREATE TABLE products (
    stock_code   text PRIMARY KEY CHECK (length(stock_code) BETWEEN 1 AND 32),
    description  text NOT NULL,
    category     text,
    unit_price   numeric(12, 2) CHECK (unit_price >= 0),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX products_category_idx ON products (category);

CREATE TABLE help_articles (
    id          text PRIMARY KEY CHECK (id ~ '^[a-z0-9-]{1,80}$'),
    title       text NOT NULL,
    body        text NOT NULL,
    tags        text[] NOT NULL DEFAULT '{}',
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX help_articles_tags_idx ON help_articles USING gin (tags);

CREATE TABLE orders (
    id                 text PRIMARY KEY,
    customer_id        text NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    ordered_at         timestamptz NOT NULL,
    country            text,
    status             text NOT NULL DEFAULT 'delivered'
                       CHECK (status IN ('placed', 'shipped', 'delivered', 'returned', 'cancelled')),
    expected_delivery  date,
    total              numeric(12, 2) NOT NULL DEFAULT 0
);
CREATE INDEX orders_customer_idx ON orders (customer_id, ordered_at DESC);

CREATE TABLE order_lines (
    order_id    text NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    line_no     integer NOT NULL,
    stock_code  text NOT NULL REFERENCES products (stock_code),
    quantity    integer NOT NULL CHECK (quantity > 0),
    unit_price  numeric(12, 2) NOT NULL CHECK (unit_price >= 0),
    PRIMARY KEY (order_id, line_no)
);
CREATE INDEX order_lines_stock_code_idx ON order_lines (stock_code);

-- Cancellation invoices ("C…") of the order export become returns.
CREATE TABLE returns (
    invoice_id   text NOT NULL,
    line_no      integer NOT NULL,
    customer_id  text NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    stock_code   text NOT NULL REFERENCES products (stock_code),
    quantity     integer NOT NULL CHECK (quantity > 0),
    unit_price   numeric(12, 2) NOT NULL CHECK (unit_price >= 0),
    returned_at  timestamptz NOT NULL,
    reason       text,
    PRIMARY KEY (invoice_id, line_no)
);
CREATE INDEX returns_customer_idx ON returns (customer_id, returned_at DESC);
