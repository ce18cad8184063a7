-- init.lua of the Neovim under test in nvim_menus.lua: fim-lsp's plugin with its own menu
-- source off, and nvim-cmp (+ cmp-nvim-lsp) or blink.cmp set up by the lazy.nvim spec that
-- editor-clients/README.md documents (FIM_LSP_MENU_SPEC: a file returning that spec).
vim.go.loadplugins = false -- as lazy.nvim: it sources each plugin's files itself
vim.cmd('filetype plugin on')
vim.cmd('filetype indent off')
vim.o.autoindent = false
vim.o.swapfile = false
vim.o.shortmess = vim.o.shortmess .. 'I'

local function env(name)
  local value = os.getenv(name)
  assert(value, name .. ' is not set')
  return value
end

--- As lazy.nvim loads a plugin: its folder on 'runtimepath', then its plugin/ and
--- after/plugin/ files sourced, before the spec's config runs.
local function add(dir)
  vim.opt.runtimepath:prepend(dir)
  for _, sub in ipairs({ '/plugin/**/*.{vim,lua}', '/after/plugin/**/*.{vim,lua}' }) do
    for _, file in ipairs(vim.fn.glob(dir .. sub, false, true)) do
      vim.cmd.source(file)
    end
  end
end

local spec = dofile(env('FIM_LSP_MENU_SPEC'))
local menu = env('FIM_LSP_MENU')
if menu == 'nvim-cmp' then
  add(env('FIM_LSP_NVIM_CMP_DIR'))
  add(env('FIM_LSP_CMP_NVIM_LSP_DIR'))
  spec.config() -- lazy.nvim calls a spec's config function once the plugin is on 'runtimepath'
elseif menu == 'blink.cmp' then
  add(env('FIM_LSP_BLINK_CMP_DIR'))
  -- lazy.nvim passes opts to setup(); the Lua matcher needs no prebuilt binary (no network).
  require('blink.cmp').setup(vim.tbl_deep_extend('force', spec.opts, { fuzzy = { implementation = 'lua' } }))
else
  error('FIM_LSP_MENU: nvim-cmp or blink.cmp, not ' .. menu)
end

require('fim_lsp').setup({
  cmd = vim.json.decode(env('FIM_LSP_SERVER_CMD')),
  completion = { enabled = false },
})
