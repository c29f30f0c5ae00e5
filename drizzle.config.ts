import { defineConfig } from 'drizzle-kit';

/** drizzle-kit generates Quiver's catalog migrations from src/sql/catalog-schema.ts. */
export default defineConfig({
  dialect: 'sqlite',
  schema: './src/sql/catalog-schema.ts',
  out: './migrations',
});
