import { defineConfig } from 'drizzle-kit';

/** drizzle-kit generates Quiver's catalog migrations from src/sql/catalog/catalog-tables.ts. */
export default defineConfig({
  dialect: 'sqlite',
  schema: './src/sql/catalog/catalog-tables.ts',
  out: './migrations',
});
