-- :checkhealth fim_lsp
local M = {}

function M.check()
  local health = vim.health
  local fim = require('fim_lsp')

  health.start('Neovim')
  if vim.fn.has('nvim-0.10') == 1 then
    health.ok(('Neovim %s'):format(tostring(vim.version())))
  else
    health.error('Neovim 0.10 or newer is needed')
  end
  if fim.mode() == 'native' then
    health.ok('ghost text: vim.lsp.inline_completion (native)')
  else
    health.ok('ghost text: extmarks (this plugin\'s renderer)')
  end
  if vim.lsp.completion and vim.lsp.completion.enable then
    health.ok('completion menu: vim.lsp.completion')
  else
    health.info('vim.lsp.completion is missing (Neovim < 0.11): use <C-x><C-o> or nvim-cmp')
  end

  health.start('fim-lsp server')
  local exe = fim.cmd_list()[1]
  if vim.fn.executable(exe) ~= 1 then
    health.error(('%q is not executable'):format(exe), {
      'Install it: scripts/install.sh in a fim-lsp checkout (it links ~/.local/bin/fim-lsp)',
      "Or point setup() at it: require('fim_lsp').setup({ cmd = { vim.fn.expand('~/.local/bin/fim-lsp') } })",
    })
  else
    local path = vim.fn.exepath(exe)
    local out = vim.fn.system({ path, '--version' })
    if vim.v.shell_error == 0 then
      health.ok(('%s (%s)'):format(path, vim.trim(out)))
    else
      health.warn(('%s --version failed: %s'):format(path, vim.trim(out)))
    end
  end

  local clients = vim.lsp.get_clients and vim.lsp.get_clients({ name = 'fim_lsp' }) or {}
  if #clients == 0 then
    health.info('no fim-lsp client running (did you call require("fim_lsp").setup()?)')
  end
  for _, client in ipairs(clients) do
    local s = fim.server_status[client.id]
    local caps = client.server_capabilities or {}
    if caps.inlineCompletionProvider then
      health.ok(('client %d: server offers inline completion'):format(client.id))
    else
      health.warn(('client %d: server does not offer inlineCompletionProvider'):format(client.id))
    end
    if not s then
      health.info(('client %d: no status yet'):format(client.id))
    elseif s.state == 'error' then
      health.error(('client %d: %s'):format(client.id, s.message))
    else
      health.ok(('client %d: %s %s %s'):format(client.id, s.state, s.model, s.message))
    end
  end
  health.info('suggestions are ' .. (fim.config.enabled and 'on' or 'off') .. ' (:FimLsp toggle)')
  local ne = fim.config.next_edit
  if ne.enabled then
    local server_on = fim.server_settings().nextEdit
    if server_on then
      health.ok(('next-edit suggestions on (keys: jump %s, accept %s, dismiss %s)'):format(
        tostring(ne.keymaps.jump), tostring(ne.keymaps.accept), tostring(ne.keymaps.dismiss)))
    else
      health.warn('next_edit.enabled, but settings.nextEdit = false: the server proposes no edits')
    end
  else
    health.info('next-edit suggestions off (on by default; setup({ next_edit = { enabled = false } }) turned them off)')
  end
end

return M
